// Retained values: a producer's event marked `retain` / `retain_key` is kept as the
// channel's current value and shows up in the `connected` snapshot of anyone who joins
// later. The test bindings bound them at 3 values and 2048 bytes per channel.
import { describe, expect, it } from "vitest";
import { produce, produceOk, uniqueId } from "./helpers";
import { hangUpAll, join, person, publicRoom, roomSentinel } from "./people";

describe("retained values on a room", () => {
  it("shows the current like count to someone who joins after the likes", async () => {
    const room = await publicRoom("post");
    const watcher = await person("Wendy");
    const live = (await join(`/v1/ws/room/${room}`, watcher)).socket;
    const first = await produceOk<any>(`/v1/rooms/${room}/events`, {
      type: "like:updated",
      data: { likes: 1 },
      retain_key: "likes:post-9",
    });
    const second = await produceOk<any>(`/v1/rooms/${room}/events`, {
      type: "like:updated",
      data: { likes: 2 },
      retain_key: "likes:post-9",
    });
    await produceOk(`/v1/rooms/${room}/events`, { type: "comment:updated", data: { comments: 5 }, retain: true });
    await produceOk(`/v1/rooms/${room}/events`, { type: "confetti", data: { colour: "gold" } });

    // Live sockets get the events themselves, each marked with the key it is kept under.
    const likes = [await live.next("like:updated"), await live.next("like:updated")];
    expect(likes.map((f) => [f.seq, f.retain_key, f.data.likes])).toEqual([
      [first.seq, "likes:post-9", 1],
      [second.seq, "likes:post-9", 2],
    ]);
    expect((await live.next("comment:updated")).retain_key).toBe("comment:updated");
    expect((await live.next("confetti")).retain_key).toBeUndefined();

    const read = await produceOk<any>(`/v1/rooms/${room}/retained`, undefined, { method: "GET" });
    expect(read.retained["likes:post-9"]).toMatchObject({ data: { likes: 2 }, seq: second.seq });
    const late = await join(`/v1/ws/room/${room}`, await person("Leo"));
    const { retained } = late.connected.data.snapshot;
    expect(Object.keys(retained).sort()).toEqual(["comment:updated", "likes:post-9"]);
    expect(retained["likes:post-9"]).toEqual({ type: "like:updated", data: { likes: 2 }, seq: second.seq, ts: expect.any(String) });
    expect(retained["comment:updated"]).toMatchObject({ type: "comment:updated", data: { comments: 5 }, seq: second.seq + 1 });
    expect(Date.parse(retained["likes:post-9"].ts)).toBeGreaterThan(Date.now() - 60_000);
    await hangUpAll([live, late.socket]);
  });

  it("keeps the value for an excluded user too, and a repeated event_id changes nothing", async () => {
    const room = await publicRoom("post");
    const actor = await person("Ava");
    const body = { type: "like:updated", data: { likes: 7 }, retain_key: "likes", exclude_user: actor.id, event_id: uniqueId("like") };
    const first = await produceOk<any>(`/v1/rooms/${room}/events`, body);
    const again = await produceOk<any>(`/v1/rooms/${room}/events`, { ...body, data: { likes: 8 } });
    expect(again).toEqual({ seq: first.seq, duplicate: true });
    const { connected, socket } = await join(`/v1/ws/room/${room}`, actor);
    expect(connected.data.snapshot.retained.likes).toMatchObject({ data: { likes: 7 }, seq: first.seq });
    await hangUpAll([socket]);
  });

  it("replays the retained events themselves on resume", async () => {
    const room = await publicRoom("post");
    const reader = await person("Rita");
    const first = await join(`/v1/ws/room/${room}`, reader);
    const { epoch, seq } = first.connected.data;
    await hangUpAll([first.socket]);
    await produceOk(`/v1/rooms/${room}/events`, { type: "like:updated", data: { likes: 1 }, retain_key: "likes" });
    await produceOk(`/v1/rooms/${room}/events`, { type: "like:updated", data: { likes: 2 }, retain_key: "likes" });
    const back = await join(`/v1/ws/room/${room}`, reader, { since: seq, epoch });
    expect(back.connected.data.resumed).toBe(true);
    const replayed = [await back.socket.next("like:updated"), await back.socket.next("like:updated")];
    expect(replayed.map((f) => [f.data.likes, f.retain_key])).toEqual([
      [1, "likes"],
      [2, "likes"],
    ]);
    expect(back.connected.data.snapshot.retained.likes.data).toEqual({ likes: 2 });
    await hangUpAll([back.socket]);
  });

  it("keeps at most RETAINED_MAX values, dropping the one set longest ago", async () => {
    const room = await publicRoom("post");
    for (const key of ["a", "b", "c"])
      await produceOk(`/v1/rooms/${room}/events`, { type: "score:updated", data: { key }, retain_key: key });
    // Setting "a" again makes "b" the oldest, so "d" pushes "b" out.
    await produceOk(`/v1/rooms/${room}/events`, { type: "score:updated", data: { key: "a", again: true }, retain_key: "a" });
    await produceOk(`/v1/rooms/${room}/events`, { type: "score:updated", data: { key: "d" }, retain_key: "d" });
    const { connected, socket } = await join(`/v1/ws/room/${room}`, await person("Max"));
    expect(Object.keys(connected.data.snapshot.retained).sort()).toEqual(["a", "c", "d"]);
    expect(connected.data.snapshot.retained.a.data).toEqual({ key: "a", again: true });
    await hangUpAll([socket]);
  });

  it("keeps at most RETAINED_MAX_BYTES, and refuses a value that could never fit without logging it", async () => {
    const room = await publicRoom("post");
    const watcher = (await join(`/v1/ws/room/${room}`, await person("Bea"))).socket;
    const kilo = "x".repeat(900);
    await produceOk(`/v1/rooms/${room}/events`, { type: "blob:set", data: { kilo }, retain_key: "one" });
    const second = await produceOk<any>(`/v1/rooms/${room}/events`, { type: "blob:set", data: { kilo }, retain_key: "two" });
    await produceOk(`/v1/rooms/${room}/events`, { type: "blob:set", data: { kilo }, retain_key: "three" });

    const tooBig = await produce(`/v1/rooms/${room}/events`, { type: "blob:set", data: { big: "y".repeat(2100) }, retain_key: "big" });
    expect(tooBig.status).toBe(413);
    expect((await tooBig.json<any>()).error.code).toBe("payload_too_large");
    await roomSentinel(room, [watcher]);
    expect(watcher.frames.filter((f) => f.type === "blob:set")).toHaveLength(3);

    const { connected, socket } = await join(`/v1/ws/room/${room}`, await person("Cy"));
    expect(Object.keys(connected.data.snapshot.retained).sort()).toEqual(["three", "two"]);
    expect(connected.data.seq).toBe(second.seq + 2); // the refused value was never logged
    await hangUpAll([watcher, socket]);
  });
});

describe("retained values on a user channel and in bulk publish", () => {
  it("puts a user's retained events in their snapshot, from either route", async () => {
    const user = await person("Uma");
    await produceOk(`/v1/users/${user.id}/events`, { type: "plan:changed", data: { plan: "pro" }, retain: true });
    const published = await produceOk<any>("/v1/publish", [
      { channel: `user:${user.id}`, type: "badge:count", data: { count: 3 }, retain_key: "badge" },
      { channel: `user:${user.id}`, type: "notification", data: { kind: "x" }, retain: true },
    ]);
    expect(published.results[0]).toMatchObject({ ok: true });
    expect(published.results[1]).toMatchObject({ ok: false, error: { code: "validation_failed" } });
    const { connected, socket } = await join("/v1/ws/user", user);
    expect(connected.data.snapshot.retained).toEqual({
      "plan:changed": { type: "plan:changed", data: { plan: "pro" }, seq: 1, ts: expect.any(String) },
      badge: { type: "badge:count", data: { count: 3 }, seq: 2, ts: expect.any(String) },
    });
    await hangUpAll([socket]);
  });

  it("refuses contradictory or malformed retain fields with a clear 400", async () => {
    const room = await publicRoom("post");
    for (const body of [
      { type: "like:updated", data: {}, retain: false, retain_key: "likes" },
      { type: "like:updated", data: {}, retain_key: "has space" },
      { type: "like:updated", data: {}, retain: "yes" },
    ]) {
      const res = await produce(`/v1/rooms/${room}/events`, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect((await res.json<any>()).error.code).toBe("validation_failed");
    }
  });
});
