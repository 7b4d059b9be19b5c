import { evictDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { installClock } from "./clock";
import { connect, produce, produceOk, type TestSocket, uniqueId } from "./helpers";
import { count, eventually, hangUpAll, join, type Person, person, roomSentinel, seen } from "./people";

async function room(settings: { visibility: "public" | "private"; members?: string[] }): Promise<string> {
  const id = uniqueId("room");
  await produceOk(`/v1/rooms/${id}`, settings, { method: "PUT" });
  return id;
}

function presence(id: string) {
  return produceOk<any>(`/v1/rooms/${id}/presence`, undefined, { method: "GET" });
}

async function refusedWith(path: string, who: Person): Promise<number> {
  const socket = await connect(path, { token: who.token });
  return (await socket.closed()).code;
}

describe("two users chat in a room", () => {
  it("delivers messages in order, stamped by the server, with an ack to the sender", async () => {
    const alice = await person("Alice");
    const bob = await person("Bob");
    const id = await room({ visibility: "private", members: [alice.id, bob.id] });
    const a = (await join(`/v1/ws/room/${id}`, alice)).socket;
    const b = (await join(`/v1/ws/room/${id}`, bob)).socket;

    const acks = [];
    for (const text of ["one", "two", "three"]) acks.push(await a.request({ type: "message", text, data: { reply_to: null } }));
    expect(acks.map((ack) => ack.type)).toEqual(["ack", "ack", "ack"]);
    const received = [await b.next("message"), await b.next("message"), await b.next("message")];
    expect(received.map((f) => f.data.text)).toEqual(["one", "two", "three"]);
    expect(received.map((f) => f.seq)).toEqual(acks.map((ack) => ack.data.seq));
    expect(received.map((f) => f.data.id)).toEqual(acks.map((ack) => ack.data.id));
    for (const f of received) {
      expect(f.data).toMatchObject({ from: alice.id, name: "Alice", data: { reply_to: null } });
      expect(Date.parse(f.data.ts)).toBeGreaterThan(Date.now() - 60_000);
    }
    expect((await a.next("message")).data.text).toBe("one"); // the sender sees its own message too
    await hangUpAll([a, b]);
  });

  it("never lets a client set the sender's id or name", async () => {
    const alice = await person("Alice");
    const bob = await person("Bob");
    const id = await room({ visibility: "private", members: [alice.id, bob.id] });
    const a = (await join(`/v1/ws/room/${id}`, alice)).socket;
    const b = (await join(`/v1/ws/room/${id}`, bob)).socket;
    for (const forged of [{ name: "Admin" }, { from: bob.id }, { id: "m-1" }, { ts: "2020-01-01T00:00:00Z" }]) {
      const reply = await a.request({ type: "message", text: "hi", ...forged });
      expect(reply.type, JSON.stringify(forged)).toBe("error");
      expect(reply.data.code).toBe("validation_failed");
    }
    await a.request({ type: "message", text: "genuine" });
    const message = await b.next("message");
    expect(message.data).toMatchObject({ text: "genuine", from: alice.id, name: "Alice" });
    expect(count(b, "message")).toBe(1);
    await hangUpAll([a, b]);
  });

  it("sends typing to the other user only, and typing:false when a typing user's last tab closes", async () => {
    const alice = await person("Alice");
    const bob = await person("Bob");
    const id = await room({ visibility: "public" });
    const a1 = (await join(`/v1/ws/room/${id}`, alice)).socket;
    const a2 = (await join(`/v1/ws/room/${id}`, alice)).socket;
    const b = (await join(`/v1/ws/room/${id}`, bob)).socket;
    expect((await a1.request({ type: "typing", typing: true })).type).toBe("ack");
    const typing = await b.next("typing");
    expect(typing.data).toEqual({ user: { id: alice.id, name: "Alice" }, typing: true, expires_in_ms: 5000 });
    expect(typing.seq).toBeUndefined();
    await roomSentinel(id, [a1, a2, b]);
    expect(count(a1, "typing") + count(a2, "typing")).toBe(0);

    await hangUpAll([a1, a2]);
    expect((await b.next("typing")).data).toEqual({ user: { id: alice.id, name: "Alice" }, typing: false, expires_in_ms: 0 });
    expect((await b.next("presence:leave")).data.user.id).toBe(alice.id);
    await hangUpAll([b]);
  });

  it("replays missed messages exactly once after a drop", async () => {
    const alice = await person("Alice");
    const bob = await person("Bob");
    const id = await room({ visibility: "private", members: [alice.id, bob.id] });
    const a = (await join(`/v1/ws/room/${id}`, alice)).socket;
    const first = await join(`/v1/ws/room/${id}`, bob);
    const { epoch } = first.connected.data;
    await a.request({ type: "message", text: "before" });
    const before = await first.socket.next("message");
    await hangUpAll([first.socket]);

    await a.request({ type: "message", text: "missed 1" });
    await a.request({ type: "message", text: "missed 2" });
    const back = await join(`/v1/ws/room/${id}`, bob, { since: before.seq as number, epoch });
    expect(back.connected.data.resumed).toBe(true);
    await a.request({ type: "message", text: "live" });
    await seen(back.socket, (f) => f.type === "message" && f.data.text === "live", "the live message");
    const texts = back.socket.frames.filter((f) => f.type === "message").map((f) => f.data.text);
    expect(texts).toEqual(["missed 1", "missed 2", "live"]);
    const seqs = back.socket.logged().map((f) => f.seq as number);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => (before.seq as number) + 1 + i));
    await hangUpAll([a, back.socket]);
  });
});

describe("presence in a room", () => {
  it("announces a user once however many tabs, survives hibernation, and leaves once", async () => {
    const alice = await person("Alice");
    const bob = await person("Bob");
    const id = await room({ visibility: "public" });
    const watcher = (await join(`/v1/ws/room/${id}`, bob)).socket;
    const tabs: TestSocket[] = [];
    for (let i = 0; i < 3; i++) {
      const { socket, connected } = await join(`/v1/ws/room/${id}`, alice);
      expect(connected.data.snapshot.online.map((u: any) => u.id).sort()).toEqual([alice.id, bob.id].sort());
      tabs.push(socket);
    }
    await roomSentinel(id, [watcher, ...tabs]);
    expect(count(watcher, "presence:join")).toBe(1);
    expect((await watcher.next("presence:join")).data).toEqual({ user: { id: alice.id, name: "Alice" } });
    expect(tabs.reduce((n, t) => n + count(t, "presence:join"), 0)).toBe(0);

    await hangUpAll(tabs.slice(0, 2));
    await eventually(async () => {
      expect((await presence(id)).online).toEqual(
        expect.arrayContaining([
          { id: alice.id, name: "Alice", connections: 1 },
          { id: bob.id, name: "Bob", connections: 1 },
        ]),
      );
    });
    await roomSentinel(id, [watcher]);
    expect(count(watcher, "presence:leave")).toBe(0);

    await evictDurableObject(env.ROOM_HUB.getByName(id));
    expect((await presence(id)).online).toHaveLength(2);
    const { socket: fourth } = await join(`/v1/ws/room/${id}`, alice);
    await roomSentinel(id, [watcher]);
    expect(count(watcher, "presence:join")).toBe(1);

    await hangUpAll([tabs[2] as TestSocket, fourth]);
    await watcher.next("presence:leave");
    await roomSentinel(id, [watcher]);
    expect(count(watcher, "presence:leave")).toBe(1);
    expect((await presence(id)).online).toEqual([{ id: bob.id, name: "Bob", connections: 1 }]);
    await hangUpAll([watcher]);
  });
});

describe("who may join a room", () => {
  it("refuses a user not in a private room with 4003, and a room nobody configured", async () => {
    const alice = await person("Alice");
    const carol = await person("Carol");
    const id = await room({ visibility: "private", members: [alice.id] });
    expect(await refusedWith(`/v1/ws/room/${id}`, carol)).toBe(4003);
    expect(await refusedWith(`/v1/ws/room/${uniqueId("never-put")}`, alice)).toBe(4003);
    const { socket } = await join(`/v1/ws/room/${id}`, alice);
    // A PUT replaces the member list.
    await produceOk(`/v1/rooms/${id}`, { visibility: "private", members: [carol.id] }, { method: "PUT" });
    expect(await refusedWith(`/v1/ws/room/${id}`, alice)).toBe(4003);
    await hangUpAll([socket, (await join(`/v1/ws/room/${id}`, carol)).socket]);
  });

  it("admits by the token's rooms claim, with * as a prefix", async () => {
    const fan = await person("Fan", ["campaign:*", "exact-room"]);
    const campaign = (await join("/v1/ws/room/campaign:123", fan)).socket;
    const exact = (await join("/v1/ws/room/exact-room", fan)).socket;
    expect(await refusedWith("/v1/ws/room/exact-room-2", fan)).toBe(4003);
    expect(await refusedWith("/v1/ws/room/campaig", fan)).toBe(4003);
    await hangUpAll([campaign, exact]);
  });

  it("admits any signed-in user to a public room, and still no one without a token", async () => {
    const id = await room({ visibility: "public" });
    const { socket, connected } = await join(`/v1/ws/room/${id}`, await person("Anyone"));
    expect(connected.data.snapshot).toMatchObject({ id, visibility: "public", messages: [] });
    const anonymous = await connect(`/v1/ws/room/${id}`);
    expect((await anonymous.closed()).code).toBe(4001);
    await hangUpAll([socket]);
  });

  it("validates PUT bodies and ids", async () => {
    expect((await produce("/v1/rooms/r1", { visibility: "secret" }, { method: "PUT" })).status).toBe(400);
    expect((await produce("/v1/rooms/r1", { visibility: "public", members: ["bad id"] }, { method: "PUT" })).status).toBe(400);
    expect((await produce("/v1/rooms/bad$/events", { type: "x" })).status).toBe(400);
    expect((await produce("/v1/rooms/r1/events", { type: "presence:join" })).status).toBe(400);
    expect((await produce("/v1/rooms/r1", { visibility: "public" }, { method: "PUT", key: "wrong" })).status).toBe(401);
  });
});

describe("bad frames in a room", () => {
  it("answer with an error code and leave the socket and everyone else working", async () => {
    const alice = await person("Alice");
    const bob = await person("Bob");
    const id = await room({ visibility: "public" });
    const a = (await join(`/v1/ws/room/${id}`, alice)).socket;
    const b = (await join(`/v1/ws/room/${id}`, bob)).socket;

    const cases: [Record<string, unknown>, string][] = [
      [{ type: "dance" }, "validation_failed"],
      [{ type: "typing", typing: "yes" }, "validation_failed"],
      [{ type: "message" }, "validation_failed"],
      [{ type: "message", text: "" }, "validation_failed"],
      [{ type: "message", text: "x".repeat(4001) }, "validation_failed"],
      [{ type: "message", text: 42 }, "validation_failed"],
    ];
    for (const [frame, code] of cases) {
      const reply = await a.request(frame);
      expect(reply, JSON.stringify(frame).slice(0, 60)).toMatchObject({ type: "error", data: { code } });
    }
    a.send("not json");
    await seen(a, (f) => f.type === "error" && /not valid JSON/.test(f.data.message), "an error for invalid JSON");

    expect((await a.request({ type: "message", text: "x".repeat(4000) })).type).toBe("ack");
    expect((await b.next("message")).data.text).toHaveLength(4000);
    expect(count(b, "error")).toBe(0);
    await hangUpAll([a, b]);
  });
});

describe("room history", () => {
  it("keeps ROOM_HISTORY (30 in tests) full messages: older ones become message:evicted, the snapshot carries the recent 30", async () => {
    const id = uniqueId("room");
    const clock = await installClock([env.ROOM_HUB.getByName(id)]);
    await produceOk(`/v1/rooms/${id}`, { visibility: "public" }, { method: "PUT" });
    // Five authors of seven messages each: within each one's share, and within the rate.
    const authors = [];
    for (let i = 0; i < 5; i++) authors.push(await join(`/v1/ws/room/${id}`, await person(`Author${i}`)));
    const epoch = authors[0]?.connected.data.epoch;
    for (let n = 1; n <= 35; n++) {
      clock.advance(1_000);
      expect((await authors[(n - 1) % 5]?.socket.request({ type: "message", text: `m${n}` }))?.type).toBe("ack");
    }
    const alice = await person("Alice");
    const late = await join(`/v1/ws/room/${id}`, alice, { since: 1, epoch });
    expect(late.connected.data.resumed).toBe(true);
    const messages = late.connected.data.snapshot.messages;
    expect(messages).toHaveLength(30);
    expect(messages[0].text).toBe("m6");
    expect(messages[29]).toMatchObject({ text: "m35" });
    const replayed = await late.socket.take(34);
    expect(replayed.slice(0, 4).map((f) => f.type)).toEqual(Array(4).fill("message:evicted"));
    expect(replayed[4]).toMatchObject({ type: "message", data: { text: "m6" } });
    await hangUpAll([...authors.map((author) => author.socket), late.socket]);
  });
});
