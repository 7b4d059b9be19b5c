import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { StreamHub } from "../../src/hubs/stream-hub";
import { appendTo, createStream, OFFSET, readAll, readStream, streamCall, streamPath } from "./streams";

const MiB = 1_048_576;

function pattern(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 31 + seed) % 256;
  return bytes;
}

describe("stream data", () => {
  it("takes a 1 MiB append in one request and reads it back byte for byte", async () => {
    const path = streamPath("big");
    await createStream(path, "application/octet-stream");
    const big = pattern(MiB, 7);
    const res = await appendTo(path, big, {}, "application/octet-stream");
    expect(res.status).toBe(204);
    expect(res.headers.get(OFFSET)).toBe("0000000000000001_0000000001048576");
    const { bytes } = await readAll(path);
    expect(bytes.byteLength).toBe(MiB);
    expect(bytes).toEqual(big);
  });

  it("streams a chunked request body into one append", async () => {
    const path = streamPath("chunked");
    await createStream(path);
    const parts = ["tok", "ens ", "arrive ", "in pieces"].map((p) => new TextEncoder().encode(p));
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const part of parts) controller.enqueue(part);
        controller.close();
      },
    });
    const res = await streamCall(path, { method: "POST", headers: { "Content-Type": "text/plain" }, body });
    expect(res.status).toBe(204);
    expect(await (await readStream(path)).text()).toBe("tokens arrive in pieces");
  });

  it("answers 413 once a stream is full (STREAM_MAX_BYTES, 2 MiB in tests), and keeps what it has", async () => {
    const path = streamPath("full");
    await createStream(path, "application/octet-stream");
    for (let i = 0; i < 2; i++) expect((await appendTo(path, pattern(MiB, i), {}, "application/octet-stream")).status).toBe(204);
    const over = await appendTo(path, new Uint8Array([1]), {}, "application/octet-stream");
    expect(over.status).toBe(413);
    expect(((await over.json()) as { error: { code: string } }).error.code).toBe("payload_too_large");
    const head = await streamCall(path, { method: "HEAD" });
    expect(head.headers.get(OFFSET)).toBe("0000000000000002_0000000002097152");
  });

  it("answers 429 beyond the open live readers a stream allows (STREAM_MAX_LIVE_READERS, 2 in tests)", async () => {
    const path = streamPath("crowd");
    const tail = (await createStream(path)).headers.get(OFFSET) as string;
    const first = readStream(path, { offset: tail, live: "long-poll" });
    const second = await readStream(path, { offset: tail, live: "sse" });
    expect(second.status).toBe(200);
    // Both readers are in: a third is refused until one leaves.
    let third = await readStream(path, { offset: tail, live: "long-poll" });
    for (let i = 0; third.status === 200 && i < 50; i++) third = await readStream(path, { offset: tail, live: "long-poll" });
    expect(third.status).toBe(429);
    expect(third.headers.get("Retry-After")).toBe("1");
    await appendTo(path, "wake");
    expect((await first).status).toBe(200);
    await second.body?.cancel();
  });

  it("frees a live reader's slot as soon as its client goes away, not at the long-poll timeout", async () => {
    const path = streamPath("leaving");
    const tail = (await createStream(path)).headers.get(OFFSET) as string;
    const stub = env.STREAM_HUB.getByName(path);
    const readers = [new AbortController(), new AbortController()];
    const polls = readers.map((r) => readStream(path, { offset: tail, live: "long-poll" }, { signal: r.signal }).catch(() => null));
    await expect.poll(() => runInDurableObject(stub, (hub: StreamHub) => hub.live.count)).toBe(2);
    for (const r of readers) r.abort();
    // The long-poll timeout is 1 s in tests: the slots come back well before it.
    await expect.poll(() => runInDurableObject(stub, (hub: StreamHub) => hub.live.count), { timeout: 500 }).toBe(0);
    await Promise.all(polls);
  });

  it("answers 429 to a new producer beyond STREAM_MAX_PRODUCERS (3 in tests); known producers go on", async () => {
    const path = streamPath("producers");
    await createStream(path);
    const send = (id: string, seq: number) =>
      appendTo(path, `${id}:${seq}`, { "Producer-Id": id, "Producer-Epoch": "0", "Producer-Seq": String(seq) });
    for (const id of ["p1", "p2", "p3"]) expect((await send(id, 0)).status).toBe(200);
    const fourth = await send("p4", 0);
    expect(fourth.status).toBe(429);
    expect((await send("p1", 1)).status).toBe(200);
    expect(await (await readStream(path)).text()).toBe("p1:0p2:0p3:0p1:1");
  });

  it("keeps JSON messages apart and flattens one level of array per append", async () => {
    const path = streamPath("json");
    await createStream(path, "application/json", {}, '[{"n":1},{"n":2}]');
    expect((await appendTo(path, '{"n":3}', {}, "application/json")).status).toBe(204);
    expect((await appendTo(path, "[[4,5]]", {}, "application/json")).status).toBe(204);
    expect((await appendTo(path, "{not json", {}, "application/json")).status).toBe(400);
    expect((await appendTo(path, "[]", {}, "application/json")).status).toBe(400);
    expect(await (await readStream(path)).json()).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }, [4, 5]]);
  });
});
