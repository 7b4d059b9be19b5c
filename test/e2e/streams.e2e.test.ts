// Durable Streams on a real port: the official TypeScript client against Dovetail (a
// producer writing with its key, a signed-in user reading live), 1,000 appends read back
// byte for byte, a 413 a client can read, and a worker restart on persisted storage that
// keeps data, offsets, producer state and Stream-Seq. (The harness raises the per-key edge
// rate limit, which 1,000 appends in a few seconds would otherwise reach.)
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DurableStream, IdempotentProducer, stream } from "@durable-streams/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { concatBytes } from "../../src/bytes";
import { E2E_PRODUCER_KEY, type RunningHub, startHub } from "./harness";

const producerHeaders = { Authorization: `Bearer ${E2E_PRODUCER_KEY}` };

function send(hub: RunningHub, path: string, init: RequestInit): Promise<Response> {
  return fetch(new URL(`/v1/stream/${path}`, hub.url), { ...init, headers: { ...producerHeaders, ...(init.headers ?? {}) } });
}

describe("streams on a real port", () => {
  let hub: RunningHub;
  beforeAll(async () => {
    hub = await startHub();
  });
  afterAll(() => hub?.stop());

  it("the official client: a producer writes with IdempotentProducer; the user reads it back, then follows it live", async () => {
    const user = `reader-${Date.now()}`;
    const url = new URL(`/v1/stream/users/${user}/generation-1`, hub.url).href;
    const handle = await DurableStream.create({ url, headers: producerHeaders, contentType: "application/json" });
    const producer = new IdempotentProducer(handle, "generator-1", { lingerMs: 1 });
    for (let i = 0; i < 50; i++) producer.append(JSON.stringify({ token: i }));
    await producer.flush();

    const headers = { Authorization: `Bearer ${await hub.token(user)}` };
    const caughtUp = await stream<{ token: number }>({ url, headers, live: false });
    expect((await caughtUp.json()).map((m) => m.token)).toEqual(Array.from({ length: 50 }, (_, i) => i));

    const live = await stream<{ token: number }>({ url, headers, offset: caughtUp.offset, live: "sse" });
    const seen: number[] = [];
    const done = new Promise<void>((resolve) => {
      live.subscribeJson(async (batch) => {
        seen.push(...batch.items.map((m) => m.token));
        if (seen.includes(51)) resolve();
      });
    });
    producer.append(JSON.stringify({ token: 50 }));
    producer.append(JSON.stringify({ token: 51 }));
    await producer.flush();
    await Promise.race([done, new Promise((_, reject) => setTimeout(() => reject(new Error(`live reader saw only ${seen}`)), 10_000))]);
    expect(seen).toEqual([50, 51]);
    live.cancel();
    await producer.close();
    expect(await handle.head()).toMatchObject({ exists: true, streamClosed: true });
  }, 60_000);

  it("keeps 1,000 small appends in order, byte-exact, with strictly increasing offsets", async () => {
    const path = `many/${Date.now()}`;
    await send(hub, path, { method: "PUT", headers: { "Content-Type": "application/octet-stream" } });
    const chunks = Array.from({ length: 1_000 }, (_, i) => Uint8Array.from({ length: 1 + (i % 37) }, (_, j) => (i * 31 + j) % 256));
    const offsets: string[] = [];
    for (const chunk of chunks) {
      const res = await send(hub, path, { method: "POST", headers: { "Content-Type": "application/octet-stream" }, body: chunk });
      expect(res.status).toBe(204);
      const offset = res.headers.get("Stream-Next-Offset") as string;
      expect(offset > (offsets.at(-1) ?? "")).toBe(true);
      offsets.push(offset);
    }
    const all = await send(hub, `${path}?offset=-1`, {});
    expect(all.headers.get("Stream-Next-Offset")).toBe(offsets.at(-1));
    expect(new Uint8Array(await all.arrayBuffer())).toEqual(concatBytes(chunks));
    // Resuming from the 500th append's offset gives exactly what followed it.
    const rest = await send(hub, `${path}?offset=${offsets[499]}`, {});
    expect(new Uint8Array(await rest.arrayBuffer())).toEqual(concatBytes(chunks.slice(500)));
  }, 180_000);

  it("answers an append over the limit with 413 even while the client is still uploading it (no reset)", async () => {
    const path = `big/${Date.now()}`;
    await send(hub, path, { method: "PUT", headers: { "Content-Type": "application/octet-stream" } });
    const statuses: string[] = [];
    for (let i = 0; i < 5; i++) {
      const body = new Uint8Array(5 * 1_048_576);
      const status = await send(hub, path, { method: "POST", headers: { "Content-Type": "application/octet-stream" }, body }).then(
        (res) => String(res.status),
        (err: Error & { cause?: { code?: string } }) => err.cause?.code ?? err.message,
      );
      statuses.push(status);
    }
    expect(statuses).toEqual(["413", "413", "413", "413", "413"]);
  }, 60_000);
});

describe("a stream across a restart on persisted storage", () => {
  const dir = mkdtempSync(join(tmpdir(), "dovetail-streams-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("keeps its bytes, offsets, producer state, Stream-Seq and TTL", async () => {
    const path = `restart/${Date.now()}`;
    const producer = (seq: number) => ({
      "Content-Type": "text/plain",
      "Producer-Id": "p",
      "Producer-Epoch": "2",
      "Producer-Seq": String(seq),
    });
    const offsets: string[] = [];
    let hub = await startHub({ persistTo: dir });
    try {
      expect((await send(hub, path, { method: "PUT", headers: { "Content-Type": "text/plain", "Stream-TTL": "3600" } })).status).toBe(201);
      for (const [seq, text] of ["one ", "two ", "three "].entries()) {
        const res = await send(hub, path, { method: "POST", headers: { ...producer(seq), "Stream-Seq": `00${seq}` }, body: text });
        expect(res.status).toBe(200);
        offsets.push(res.headers.get("Stream-Next-Offset") as string);
      }
    } finally {
      await hub.stop();
    }

    hub = await startHub({ persistTo: dir });
    try {
      const all = await send(hub, `${path}?offset=-1`, {});
      expect(await all.text()).toBe("one two three ");
      expect(all.headers.get("Stream-Next-Offset")).toBe(offsets[2]);
      expect(await (await send(hub, `${path}?offset=${offsets[0]}`, {})).text()).toBe("two three ");

      const retry = await send(hub, path, { method: "POST", headers: producer(2), body: "three " });
      expect([retry.status, retry.headers.get("Producer-Seq")]).toEqual([204, "2"]);
      const stale = await send(hub, path, { method: "POST", headers: { ...producer(0), "Producer-Epoch": "1" }, body: "zombie" });
      expect([stale.status, stale.headers.get("Producer-Epoch")]).toEqual([403, "2"]);
      expect(
        (await send(hub, path, { method: "POST", headers: { "Content-Type": "text/plain", "Stream-Seq": "001" }, body: "late" })).status,
      ).toBe(409);
      const next = await send(hub, path, { method: "POST", headers: producer(3), body: "four" });
      expect([next.status, (next.headers.get("Stream-Next-Offset") as string) > (offsets[2] as string)]).toEqual([200, true]);

      const head = await send(hub, path, { method: "HEAD" });
      expect(head.headers.get("Stream-TTL")).toBe("3600");
      expect(await (await send(hub, path, {})).text()).toBe("one two three four");
    } finally {
      await hub.stop();
    }
  }, 90_000);
});
