// Exactly-once sends across reconnects: a client that connects with `?client=<key>` and
// sends a frame again with the same ref (it never saw the ack) gets the first answer back,
// and the hub does not act twice.
import { describe, expect, it } from "vitest";
import { connect, uniqueId } from "./helpers";
import { hangUpAll, join, person, publicRoom, roomSentinel } from "./people";

describe("a frame sent again after a reconnect", () => {
  it("is answered from memory: one message, the same ack", async () => {
    const alice = await person("Alice");
    const room = await publicRoom("chat");
    const watcher = (await join(`/v1/ws/room/${room}`, await person("Wes"))).socket;
    const client = uniqueId("k").replaceAll(/[^A-Za-z0-9_-]/g, "");
    const first = (await join(`/v1/ws/room/${room}`, alice, { client })).socket;
    first.send({ type: "message", text: "only once", ref: "r1" });
    const ack = await first.next("ack");
    await hangUpAll([first]);

    const again = (await join(`/v1/ws/room/${room}`, alice, { client })).socket;
    again.send({ type: "message", text: "only once", ref: "r1" });
    const repeated = await again.next("ack");
    expect(repeated).toEqual(ack);
    again.send({ type: "message", text: "a new one", ref: "r2" });
    expect((await again.next("ack")).data.seq).toBe(ack.data.seq + 1);

    await roomSentinel(room, [watcher]);
    expect(watcher.frames.filter((f) => f.type === "message").map((f) => f.data.text)).toEqual(["only once", "a new one"]);
    await hangUpAll([again, watcher]);
  });

  it("is a new frame for another client key, or without one", async () => {
    const alice = await person("Alice");
    const room = await publicRoom("chat");
    const a = (await join(`/v1/ws/room/${room}`, alice, { client: "tab-one-0001" })).socket;
    const b = (await join(`/v1/ws/room/${room}`, alice, { client: "tab-two-0002" })).socket;
    const plain = (await join(`/v1/ws/room/${room}`, alice)).socket;
    const seqs: number[] = [];
    for (const socket of [a, b, plain, plain]) {
      socket.send({ type: "message", text: "hi", ref: "m1" });
      seqs.push((await socket.next("ack")).data.seq);
    }
    expect(new Set(seqs).size).toBe(4);
    await hangUpAll([a, b, plain]);
  });

  it("refuses a malformed client key before any object is touched", async () => {
    const alice = await person("Alice");
    for (const client of ["short", "has space here", "x".repeat(65)]) {
      await expect(connect(`/v1/ws/room/${uniqueId("chat")}`, { token: alice.token, query: { client } })).rejects.toMatchObject({
        status: 400,
      });
    }
  });
});
