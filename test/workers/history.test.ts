// Room history: GET /v1/rooms/:id/messages pages back through what the room's log keeps,
// newest first, for members (JWT) and producers. The test bindings keep 30 full messages
// a room (ROOM_HISTORY; the log holds 4 rows per message), 7 of them per member (25%),
// so the tests take turns between members to stay under a member's share.
import { describe, expect, it } from "vitest";
import { call, produce, produceOk, type TestSocket, uniqueId } from "./helpers";
import { hangUpAll, join, type Person, person } from "./people";

async function privateRoom(members: Person[]): Promise<string> {
  const id = uniqueId("chat");
  await produceOk(`/v1/rooms/${id}`, { visibility: "private", members: members.map((m) => m.id) }, { method: "PUT" });
  return id;
}

/** Sends `texts` in order, taking turns between `sockets`. */
async function say(sockets: TestSocket | TestSocket[], texts: string[]): Promise<number[]> {
  const turns = Array.isArray(sockets) ? sockets : [sockets];
  const seqs: number[] = [];
  for (const [i, text] of texts.entries()) {
    const ack = await (turns[i % turns.length] as TestSocket).request({ type: "message", text });
    expect(ack.type, JSON.stringify(ack)).toBe("ack");
    seqs.push(ack.data.seq);
  }
  return seqs;
}

function page(room: string, token: string, query = "") {
  return call(`/v1/rooms/${room}/messages${query}`, { headers: { Authorization: `Bearer ${token}` } });
}

async function pageOk(room: string, token: string, query = ""): Promise<any> {
  const res = await page(room, token, query);
  expect(res.status, await res.clone().text()).toBe(200);
  return res.json();
}

const texts = (p: any) => p.messages.map((m: any) => m.text);

describe("paging back through a room's history", () => {
  it("gives a member pages newest first, with a cursor that new messages do not move", async () => {
    const alice = await person("Alice");
    const bob = await person("Bob");
    const room = await privateRoom([alice, bob]);
    const { socket } = await join(`/v1/ws/room/${room}`, alice);
    const { socket: bobs } = await join(`/v1/ws/room/${room}`, bob);
    const words = Array.from({ length: 12 }, (_, i) => `m${i + 1}`);
    const seqs = await say([socket, bobs], words);
    await produceOk(`/v1/rooms/${room}/events`, { type: "like:updated", data: { likes: 1 } }); // not a message

    const first = await pageOk(room, bob.token, "?limit=5");
    expect(texts(first)).toEqual(["m12", "m11", "m10", "m9", "m8"]);
    expect(first.messages[0]).toEqual({
      id: expect.any(String),
      from: bob.id,
      name: "Bob",
      text: "m12",
      ts: expect.any(String),
      seq: seqs[11],
    });
    expect(first).toMatchObject({ room, next_before: seqs[7], end: null });

    await say([socket, bobs], ["new 1", "new 2"]); // arrive while Bob reads old ones
    const second = await pageOk(room, bob.token, `?limit=5&before=${first.next_before}`);
    expect(texts(second)).toEqual(["m7", "m6", "m5", "m4", "m3"]);
    const third = await pageOk(room, bob.token, `?limit=5&before=${second.next_before}`);
    expect(texts(third)).toEqual(["m2", "m1"]);
    expect(third).toMatchObject({ next_before: null, end: "start" });

    const newest = await pageOk(room, bob.token);
    expect(texts(newest).slice(0, 3)).toEqual(["new 2", "new 1", "m12"]);
    await hangUpAll([socket, bobs]);
  });

  it("says when older messages were trimmed from the log", async () => {
    const alice = await person("Alice");
    const bob = await person("Bob");
    const room = await privateRoom([alice, bob]);
    const { socket } = await join(`/v1/ws/room/${room}`, alice);
    const { socket: bobs } = await join(`/v1/ws/room/${room}`, bob);
    await say(
      [socket, bobs],
      Array.from({ length: 10 }, (_, i) => `old ${i + 1}`),
    );
    // 115 more events push the first five messages out of a 120-row log.
    const ticks = Array.from({ length: 115 }, (_, i) => ({ channel: `room:${room}`, type: "tick", data: { i } }));
    await produceOk("/v1/publish", ticks.slice(0, 100));
    await produceOk("/v1/publish", ticks.slice(100));
    const all = await pageOk(room, alice.token, "?limit=100");
    expect(texts(all)).toEqual(["old 10", "old 9", "old 8", "old 7", "old 6"]);
    expect(all).toMatchObject({ next_before: null, end: "retention" });
    await hangUpAll([socket, bobs]);
  });

  it("says so when a member's flood evicted messages, though the log still starts at the first event", async () => {
    const alice = await person("Alice");
    const room = await privateRoom([alice]);
    const { socket } = await join(`/v1/ws/room/${room}`, alice);
    await say(
      socket,
      Array.from({ length: 9 }, (_, i) => `flood ${i + 1}`),
    );
    // Alice's share is 7 full messages: her two oldest are `message:evicted` stubs now.
    const all = await pageOk(room, alice.token, "?limit=100");
    expect(texts(all)).toEqual(["flood 9", "flood 8", "flood 7", "flood 6", "flood 5", "flood 4", "flood 3"]);
    expect(all).toMatchObject({ next_before: null, end: "retention" });
    // Below the oldest message kept there are only the stubs: that page says so too.
    const newer = await pageOk(room, alice.token, `?limit=100&before=${all.messages[6].seq}`);
    expect(newer).toMatchObject({ messages: [], next_before: null, end: "retention" });
    await hangUpAll([socket]);
  });

  it("puts each snapshot message's seq in the snapshot, so a client can page back from it", async () => {
    const alice = await person("Alice");
    const room = await privateRoom([alice]);
    const first = await join(`/v1/ws/room/${room}`, alice);
    const seqs = await say(first.socket, ["a", "b"]);
    const again = await join(`/v1/ws/room/${room}`, alice);
    expect(again.connected.data.snapshot.messages.map((m: any) => [m.text, m.seq])).toEqual([
      ["a", seqs[0]],
      ["b", seqs[1]],
    ]);
    const older = await pageOk(room, alice.token, `?before=${seqs[1]}`);
    expect(texts(older)).toEqual(["a"]);
    await hangUpAll([first.socket, again.socket]);
  });
});

describe("who may read a room's history", () => {
  it("lets producers and members in, and keeps everyone else out with a clear error", async () => {
    const alice = await person("Alice");
    const mallory = await person("Mallory");
    const claimed = await person("Carol", ["chat-*"]);
    const room = await privateRoom([alice]);
    const { socket } = await join(`/v1/ws/room/${room}`, alice);
    await say(socket, ["secret"]);

    const asProducer = await produceOk<any>(`/v1/rooms/${room}/messages`, undefined, { method: "GET" });
    expect(texts(asProducer)).toEqual(["secret"]);
    expect(texts(await pageOk(room, claimed.token))).toEqual(["secret"]); // the rooms claim admits too

    const outsider = await page(room, mallory.token);
    expect(outsider.status).toBe(403);
    expect((await outsider.json<any>()).error.code).toBe("forbidden");
    const anonymous = await call(`/v1/rooms/${room}/messages`);
    expect(anonymous.status).toBe(401);
    const unknown = await produce(`/v1/rooms/${uniqueId("nowhere")}/messages`, undefined, { method: "GET" });
    expect(unknown.status).toBe(404);
    await hangUpAll([socket]);
  });

  it("refuses bad cursors and limits with validation_failed", async () => {
    const alice = await person("Alice");
    const room = await privateRoom([alice]);
    for (const query of ["?limit=0", "?limit=101", "?limit=ten", "?before=0", "?before=-3", "?before=1.5", "?before="]) {
      const res = await page(room, alice.token, query);
      expect(res.status, query).toBe(400);
      expect((await res.json<any>()).error.code, query).toBe("validation_failed");
    }
    const bad = await produce("/v1/rooms/bad%20id/messages", undefined, { method: "GET" });
    expect(bad.status).toBe(400);
  });
});
