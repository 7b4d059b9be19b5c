// One member against a room: many tabs of messages, typing storms, huge messages, a
// snapshot that grows without bound, a history wipe, a 15 MB replay, binary frames.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { installClock } from "./clock";
import { connect, createJob, jobWithSockets, mintToken, produceOk, uniqueId } from "./helpers";
import { count, hangUpAll, join, type Person, person, roomSentinel } from "./people";

async function publicRoom(): Promise<string> {
  const room = uniqueId("room");
  await produceOk(`/v1/rooms/${room}`, { visibility: "public" }, { method: "PUT" });
  return room;
}

/** A room on the test clock, so per-user budgets can refill without waiting. */
async function roomOnClock() {
  const room = uniqueId("room");
  const clock = await installClock([env.ROOM_HUB.getByName(room)]);
  await produceOk(`/v1/rooms/${room}`, { visibility: "public" }, { method: "PUT" });
  return { room, clock };
}

describe("message and typing budgets", () => {
  it("limits a user's messages per room across all their sockets, not per socket", async () => {
    const { room } = await roomOnClock(); // time stands still: no refill during the burst
    const flooder = await person("Flooder");
    const tabs = [];
    for (let i = 0; i < 4; i++) tabs.push((await join(`/v1/ws/room/${room}`, flooder)).socket);
    const replies = await Promise.all(
      tabs.flatMap((tab) => Array.from({ length: 10 }, (_, i) => tab.request({ type: "message", text: `m${i}` }))),
    );
    const acked = replies.filter((r) => r.type === "ack").length;
    // Burst 10: 40 frames at once get 10 through, whichever tabs they came from.
    expect(acked).toBe(10);
    expect(replies.filter((r) => r.type === "error").every((r) => r.data.code === "rate_limited")).toBe(true);
    // Refused, not cut off.
    for (const tab of tabs) expect(tab.close).toBeUndefined();
    await hangUpAll(tabs);
  });

  it("sends another member at most one typing frame per user per second, whatever the tabs", async () => {
    const { room, clock } = await roomOnClock();
    const typist = await person("Typist");
    const reader = await person("Reader");
    const r = (await join(`/v1/ws/room/${room}`, reader)).socket;
    const tabs = [];
    for (let i = 0; i < 4; i++) tabs.push((await join(`/v1/ws/room/${room}`, typist)).socket);
    const replies = await Promise.all(
      tabs.flatMap((tab) => Array.from({ length: 5 }, () => tab.request({ type: "typing", typing: true }))),
    );
    // Typing's own budget (burst 4) refuses the rest of the storm; what passes is coalesced.
    expect(replies.filter((reply) => reply.type === "ack")).toHaveLength(4);
    await roomSentinel(room, [r]);
    expect(count(r, "typing")).toBe(1);
    clock.advance(1_000);
    expect((await tabs[0]?.request({ type: "typing", typing: false }))?.type).toBe("ack");
    await roomSentinel(room, [r]);
    expect(count(r, "typing")).toBe(2);
    await hangUpAll([...tabs, r]);
  });

  it("refuses a message whose stored form is over ROOM_MESSAGE_MAX_BYTES, though its frame fits", async () => {
    const room = await publicRoom();
    const user = await person("Wide");
    const socket = (await join(`/v1/ws/room/${room}`, user)).socket;
    // 3,000 three-byte characters: 9 KB of text, under the 16 KiB frame limit.
    const refused = await socket.request({ type: "message", text: "€".repeat(3_000) });
    expect(refused.data).toMatchObject({ code: "payload_too_large" });
    expect((await socket.request({ type: "message", text: "€".repeat(2_000) })).type).toBe("ack");
    await hangUpAll([socket]);
  });
});

describe("snapshot and history", () => {
  it("fits the snapshot's messages into ROOM_SNAPSHOT_BYTES, dropping the oldest and saying how many", async () => {
    const { room, clock } = await roomOnClock();
    const people: Person[] = [];
    for (let i = 0; i < 5; i++) people.push(await person(`Author${i}`));
    for (const author of people) {
      const socket = (await join(`/v1/ws/room/${room}`, author)).socket;
      for (let i = 0; i < 6; i++) {
        clock.advance(1_000);
        expect((await socket.request({ type: "message", text: "x".repeat(3_500) })).type).toBe("ack");
      }
      await hangUpAll([socket]);
    }
    const { connected } = await join(`/v1/ws/room/${room}`, await person("Joiner"));
    const bytes = new TextEncoder().encode(JSON.stringify(connected.data.snapshot.messages)).length;
    expect(bytes).toBeLessThanOrEqual(65_536);
    expect(connected.data.snapshot.messages.length).toBeGreaterThan(10);
    expect(connected.data.snapshot.messages_trimmed).toBe(30 - connected.data.snapshot.messages.length);
  });

  it("keeps another member's resume intact through a one-member flood, and their messages in the snapshot", async () => {
    const { room, clock } = await roomOnClock();
    const bob = await person("Bob");
    const flooder = await person("Flooder");
    const b = (await join(`/v1/ws/room/${room}`, bob)).socket;
    const mine = [];
    for (const text of ["one", "two", "three"]) mine.push((await b.request({ type: "message", text })).data.id);
    const connected = b.frames[0];
    const since = Math.max(...b.logged().map((f) => f.seq as number));
    await hangUpAll([b]);

    // ROOM_HISTORY is 30 in tests: 100 messages are over three times the history.
    const f = (await join(`/v1/ws/room/${room}`, flooder)).socket;
    for (let i = 0; i < 100; i++) {
      clock.advance(250);
      expect((await f.request({ type: "message", text: `flood ${i} ${"z".repeat(500)}` })).type).toBe("ack");
    }
    await hangUpAll([f]);

    const back = await connect(`/v1/ws/room/${room}`, { token: bob.token, query: { since, epoch: connected?.data.epoch } });
    const resumed = await back.next("connected");
    expect(resumed.data.resumed).toBe(true);
    await roomSentinel(room, [back]);
    const seqs = back.logged().map((frame) => frame.seq as number);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => since + 1 + i)); // every seq, in order
    const full = back.logged().filter((frame) => frame.type === "message");
    const evicted = back.logged().filter((frame) => frame.type === "message:evicted");
    expect(full.length).toBeLessThanOrEqual(8); // the flooder's share of 30
    expect(evicted.every((frame) => frame.data.from === flooder.id)).toBe(true);
    expect(resumed.data.snapshot.messages.map((m: { id: string }) => m.id)).toEqual(expect.arrayContaining(mine));
    await hangUpAll([back]);
  });
});

describe("replay", () => {
  it("answers resumed:false with the snapshot when a resume would replay more than REPLAY_MAX_BYTES", async () => {
    const owner = uniqueId("alice");
    const job = await createJob(owner);
    const token = await mintToken(owner);
    const first = await connect(`/v1/ws/job/${job}`, { token });
    const { epoch, seq } = (await first.next("connected")).data;
    await hangUpAll([first]);
    // 45 events of ~25 KB: 1.1 MB after seq, all within LOG_RETENTION (50).
    for (let i = 1; i <= 45; i++) await produceOk(`/v1/jobs/${job}/events`, { progress: i, data: { blob: "b".repeat(25_000) } });
    const back = await connect(`/v1/ws/job/${job}`, { token, query: { since: seq, epoch } });
    const connected = await back.next("connected");
    expect(connected.data.resumed).toBe(false);
    expect(connected.data.snapshot.progress).toBe(45);
    // A resume that fits is still served exactly.
    const near = await connect(`/v1/ws/job/${job}`, { token, query: { since: connected.data.seq - 5, epoch } });
    expect((await near.next("connected")).data.resumed).toBe(true);
    expect((await near.take(5)).map((f) => f.data.progress)).toEqual([41, 42, 43, 44, 45]);
    await hangUpAll([back, near]);
  });
});

describe("frames", () => {
  it("closes a binary frame with 1003, an oversized one (binary or text) with 1009, and leaves neighbours alone", async () => {
    const {
      job,
      sockets: [small, big, text, calm],
    } = await jobWithSockets(4);
    small?.ws.send(new Uint8Array([0x7b, 0x7d]));
    expect((await small?.closed())?.code).toBe(1003);
    big?.ws.send(new Uint8Array(1_048_576));
    expect((await big?.closed())?.code).toBe(1009);
    text?.send("x".repeat(20_000));
    expect((await text?.closed())?.code).toBe(1009);
    await produceOk(`/v1/jobs/${job}/events`, { progress: 7 });
    expect((await calm?.next("job:update"))?.data.progress).toBe(7);
    calm?.hangUp();
  });

  it("checks the size of a binary frame before anything else, rate included", async () => {
    const { sockets } = await jobWithSockets(1);
    const socket = sockets[0];
    // The hub never reads it: a 1 MiB binary frame is closed as too big, not parsed or answered.
    socket?.ws.send(new Uint8Array(1_048_576).fill(0x20));
    expect((await socket?.closed())?.code).toBe(1009);
    expect(socket?.frames.filter((f) => f.type === "error")).toEqual([]);
  });
});
