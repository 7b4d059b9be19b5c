// A big room's shards (CHANNEL_SHARD_SOCKETS is 50 here) give their sockets what the room's
// own object gives: retained values and read receipts in the `connected` snapshot, kept
// current live, and `read` frames go through the root like messages do.
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { RoomShard } from "../../src/rooms/room-shard";
import { shardName } from "../../src/rooms/room-shards";
import { produceOk, type TestSocket, uniqueId } from "./helpers";
import { hangUpAll, join, type Person, person, seen } from "./people";

const THRESHOLD = Number(env.CHANNEL_SHARD_SOCKETS);

describe("retained values and read receipts on a room's shards", () => {
  it("shows a shard's sockets the room's values and receipts, and takes their read frames through the root", async () => {
    const id = uniqueId("big");
    await produceOk(`/v1/rooms/${id}`, { visibility: "public" }, { method: "PUT" });
    const root: TestSocket[] = [];
    const people: Person[] = [];
    for (let i = 0; i < THRESHOLD; i++) {
      if (i % 2 === 0) people.push(await person(`Viewer${i}`));
      root.push((await join(`/v1/ws/room/${id}`, people.at(-1) as Person)).socket);
    }
    const early = people[0] as Person;
    const { seq } = await produceOk<any>(`/v1/rooms/${id}/events`, { type: "like:updated", data: { likes: 3 }, retain_key: "likes:p1" });
    expect((await (root[0] as TestSocket).request({ type: "read", up_to: seq })).data.up_to).toBe(seq);

    const late = await person("Late");
    const { socket: onShard, connected } = await join(`/v1/ws/room/${id}`, late);
    const onShards = await runInDurableObject(env.ROOM_SHARD.getByName(shardName(id, 1)), (_o: RoomShard, s) => s.getWebSockets().length);
    expect(onShards).toBe(1);
    expect(connected.data.snapshot.retained).toEqual({
      "likes:p1": { type: "like:updated", data: { likes: 3 }, seq, ts: expect.any(String) },
    });
    expect(connected.data.snapshot.reads).toEqual([{ user: { id: early.id, name: early.name }, up_to: seq }]);

    // A read on the shard: stored by the root, acked with the position, heard on the root's sockets.
    const ack = await onShard.request({ type: "read", up_to: seq });
    expect([ack.type, ack.data.up_to]).toEqual(["ack", seq]);
    await seen(root[1] as TestSocket, (f) => f.type === "read" && f.data.user.id === late.id, "the shard's receipt on the root");
    const future = await onShard.request({ type: "read", up_to: seq + 100 });
    expect([future.type, future.data.code]).toEqual(["error", "validation_failed"]);

    // A new value, live, then a second shard socket's snapshot: both kept current on the shard.
    const next = await produceOk<any>(`/v1/rooms/${id}/events`, { type: "like:updated", data: { likes: 4 }, retain_key: "likes:p1" });
    await seen(onShard, (f) => f.seq === next.seq, "the new like count on the shard");
    const later = await join(`/v1/ws/room/${id}`, await person("Later"));
    expect(later.connected.data.snapshot.retained["likes:p1"]).toMatchObject({ data: { likes: 4 }, seq: next.seq });
    expect(later.connected.data.snapshot.reads.map((r: any) => r.user.id)).toEqual([late.id, early.id]);
    await hangUpAll([...root, onShard, later.socket]);
  });
});
