import { describe, expect, it } from "vitest";
import { produce, produceOk } from "./helpers";
import { count, hangUpAll, join, person, roomSentinel, userSentinel } from "./people";

describe("bulk publish", () => {
  it("delivers the good items and reports each bad one alone", async () => {
    const olivia = await person("Olivia");
    const viewer = await person("Vera");
    const post = `post-${olivia.id}`;
    await produceOk(`/v1/rooms/${post}`, { visibility: "public" }, { method: "PUT" });
    const device = (await join("/v1/ws/user", olivia)).socket;
    const inRoom = (await join(`/v1/ws/room/${post}`, viewer)).socket;

    const body = await produceOk<any>("/v1/publish", [
      { channel: `user:${olivia.id}`, type: "notification", data: { kind: "like", title: "Vera liked your post" } },
      { channel: `room:${post}`, type: "like:updated", data: { likes: 1 } },
      { channel: `room:${post}`, type: "Not A Type", data: {} },
      { channel: `user:${olivia.id}`, type: "like:updated", data: { likes: 1 }, event_id: "like-1" },
      { channel: `room:${post}`, type: "message", data: { text: "forged" } },
      { channel: "job:42", type: "job:update", data: {} },
      { channel: "nowhere:1", type: "x", data: {} },
      { channel: "room:bad$id", type: "x", data: {} },
      { nonsense: true },
      { channel: `room:${post}`, type: "like:updated", data: { likes: 2 } },
      { channel: `user:${olivia.id}`, type: "like:updated", data: { likes: 1 }, event_id: "like-1" },
    ]);
    const results = body.results;
    expect(results.map((r: any) => r.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(results.map((r: any) => r.ok)).toEqual([true, true, false, true, false, false, false, false, false, true, true]);
    for (const i of [2, 4, 5, 6, 7, 8]) expect(results[i].error.code, `item ${i}`).toBe("validation_failed");
    expect(results[5].error.message).toContain("/v1/jobs/:id/events");
    expect(results[10]).toMatchObject({ ok: true, duplicate: true, seq: results[3].seq });
    expect(body).toMatchObject({ delivered: 5, failed: 6 });

    expect((await device.next("notification")).data).toMatchObject({ kind: "like", title: "Vera liked your post", read: false });
    expect((await device.next("like:updated")).seq).toBe(results[3].seq);
    // Same-channel items keep their order.
    expect((await inRoom.next("like:updated")).data).toEqual({ likes: 1 });
    expect((await inRoom.next("like:updated")).data).toEqual({ likes: 2 });
    await userSentinel(olivia.id, [device]);
    await roomSentinel(post, [inRoom]);
    expect(count(device, "like:updated")).toBe(1);
    expect(count(inRoom, "message")).toBe(0);
    await hangUpAll([device, inRoom]);
  });

  it("refuses a body that is not a list of 1 to 100 items, and callers without the producer key", async () => {
    const item = { channel: "room:r1", type: "x", data: {} };
    expect((await produce("/v1/publish", item)).status).toBe(400);
    expect((await produce("/v1/publish", [])).status).toBe(400);
    expect((await produce("/v1/publish", Array(101).fill(item))).status).toBe(400);
    expect((await produce("/v1/publish", [item], { key: "not-a-key" })).status).toBe(401);
    const hundred = await produceOk<any>("/v1/publish", Array(100).fill(item));
    expect(hundred.results.filter((r: any) => r.ok)).toHaveLength(100);
  });
});
