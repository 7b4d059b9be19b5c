import { abortAllDurableObjects, evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { StreamHub } from "../../src/hubs/stream-hub";
import { appendTo, createStream, OFFSET, readStream, streamCall, streamPath } from "./streams";

const encode = (text: string) => new TextEncoder().encode(text);
const producer = (seq: number) => ({ "Producer-Id": "writer-1", "Producer-Epoch": "0", "Producer-Seq": String(seq) });

/** A request body the test feeds by hand, to stop an append half-way. */
function manualBody() {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
    },
  });
  return { body, controller };
}

/** Settles with the response, or with the error a dropped request ends in. */
const settle = (pending: Promise<Response>) =>
  pending.then(
    (res) => ({ status: res.status }),
    (err: unknown) => ({ error: String(err) }),
  );

describe("a stream across evictions and restarts of its object", () => {
  it("an append cut off when its object is reset mid-body stores nothing; its retry is stored exactly once", async () => {
    const path = streamPath("evict-append");
    await createStream(path, "text/plain", {}, "before ");
    const { body, controller } = manualBody();
    controller.enqueue(encode("half of an app"));
    const pending = settle(streamCall(path, { method: "POST", headers: { "Content-Type": "text/plain", ...producer(0) }, body }));
    const stub = env.STREAM_HUB.getByName(path);
    // The object is reading the body when it goes: its request dies with it.
    await expect.poll(() => runInDurableObject(stub, (hub: StreamHub) => hub.queue.busy)).toBe(1);
    await abortAllDurableObjects();
    controller.close();
    const outcome = await pending;
    expect("status" in outcome ? outcome.status : 500).toBeGreaterThanOrEqual(500);

    expect((await streamCall(path, { method: "HEAD" })).headers.get(OFFSET)).toBe("0000000000000001_0000000000000007");
    const retry = await appendTo(path, "half of an append", producer(0));
    expect(retry.status).toBe(200);
    expect((await appendTo(path, "half of an append", producer(0))).status).toBe(204);
    expect(await (await readStream(path)).text()).toBe("before half of an append");
  });

  it("a graceful eviction waits for an append whose body is still arriving; it is stored once", async () => {
    const path = streamPath("evict-append");
    await createStream(path);
    const { body, controller } = manualBody();
    controller.enqueue(encode("first half, "));
    const pending = streamCall(path, { method: "POST", headers: { "Content-Type": "text/plain", ...producer(0) }, body });
    const stub = env.STREAM_HUB.getByName(path);
    await expect.poll(() => runInDurableObject(stub, (hub: StreamHub) => hub.queue.busy)).toBe(1);
    const evicting = evictDurableObject(stub);
    controller.enqueue(encode("second half"));
    controller.close();
    expect((await pending).status).toBe(200);
    await evicting;
    // A fresh instance: the producer state came back from SQLite with the data.
    expect((await appendTo(path, "first half, second half", producer(0))).status).toBe(204);
    expect(await (await readStream(path)).text()).toBe("first half, second half");
  });

  it("a graceful eviction lets a long-poll finish, and the reader resumes from its offset without loss", async () => {
    const path = streamPath("evict-poll");
    const tail = (await createStream(path)).headers.get(OFFSET) as string;
    const poll = readStream(path, { offset: tail, live: "long-poll" });
    const stub = env.STREAM_HUB.getByName(path);
    await evictDurableObject(stub);
    const answered = await poll;
    expect([200, 204]).toContain(answered.status);
    expect(answered.status === 204 ? answered.headers.get(OFFSET) : tail).toBe(tail);

    expect((await appendTo(path, "after the eviction")).status).toBe(204);
    const resumed = await readStream(path, { offset: tail, live: "long-poll" });
    expect(await resumed.text()).toBe("after the eviction");
  });

  it("a long-poll dropped by a reset object is retried from the same offset and misses nothing", async () => {
    const path = streamPath("reset-poll");
    const tail = (await createStream(path)).headers.get(OFFSET) as string;
    const poll = settle(readStream(path, { offset: tail, live: "long-poll" }));
    await expect.poll(() => runInDurableObject(env.STREAM_HUB.getByName(path), (hub: StreamHub) => hub.live.count)).toBe(1);
    await abortAllDurableObjects();
    const dropped = await poll;
    expect("error" in dropped || (dropped.status ?? 0) >= 500).toBe(true);

    expect((await appendTo(path, "written while no one listened")).status).toBe(204);
    const retried = await readStream(path, { offset: tail, live: "long-poll" });
    expect(await retried.text()).toBe("written while no one listened");
  });

  it("an append whose body is still arriving when its stream is deleted answers 404 and stores nothing", async () => {
    const path = streamPath("delete-mid-append");
    await createStream(path, "text/plain", {}, "before ");
    const { body, controller } = manualBody();
    controller.enqueue(encode("late "));
    const pending = streamCall(path, { method: "POST", headers: { "Content-Type": "text/plain", ...producer(0) }, body });
    const stub = env.STREAM_HUB.getByName(path);
    await expect.poll(() => runInDurableObject(stub, (hub: StreamHub) => hub.queue.busy)).toBe(1);
    expect((await streamCall(path, { method: "DELETE" })).status).toBe(204);
    controller.enqueue(encode("append"));
    controller.close();
    // Its checks and write run after the delete: they find no stream, and write nothing.
    expect((await pending).status).toBe(404);
    expect((await streamCall(path, { method: "HEAD" })).status).toBe(404);
    await createStream(path, "text/plain", {}, "again");
    expect(await (await readStream(path)).text()).toBe("again");
  });

  it("expires on its alarm once idle for its TTL, and the path can be created again", async () => {
    const path = streamPath("ttl");
    await createStream(path, "text/plain", { "Stream-TTL": "60" }, "short-lived");
    const stub = env.STREAM_HUB.getByName(path);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect((await streamCall(path, { method: "HEAD" })).status).toBe(200);

    await runInDurableObject(stub, (hub: StreamHub) => {
      const start = Date.now();
      hub.now = () => start + 61_000;
    });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    // The alarm erased the object's storage; a fresh instance (real clock) finds nothing.
    await abortAllDurableObjects();
    expect((await streamCall(path, { method: "HEAD" })).status).toBe(404);
    expect((await createStream(path, "application/json")).status).toBe(201);
  });

  it("a stream with no TTL of its own gets STREAM_DEFAULT_TTL_S (7 days), shown on HEAD", async () => {
    const path = streamPath("default-ttl");
    await createStream(path);
    expect((await streamCall(path, { method: "HEAD" })).headers.get("Stream-TTL")).toBe(String(7 * 86_400));
    const fixed = streamPath("fixed");
    const at = new Date(Date.now() + 3_600_000).toISOString();
    await createStream(fixed, "text/plain", { "Stream-Expires-At": at });
    const head = await streamCall(fixed, { method: "HEAD" });
    expect(head.headers.get("Stream-TTL")).toBeNull();
    expect(head.headers.get("Stream-Expires-At")).toBe(at);
  });
});
