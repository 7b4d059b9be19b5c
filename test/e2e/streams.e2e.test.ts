// Durable Streams on a real port: the official TypeScript client against Dovetail (a
// producer writing with its key, a signed-in user reading live), and a worker restart on
// persisted storage that keeps data, offsets, producer state and Stream-Seq.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DurableStream, IdempotentProducer, stream } from "@durable-streams/client";
import { afterAll, describe, expect, it } from "vitest";
import { E2E_PRODUCER_KEY, type RunningHub, startHub } from "./harness";

const producerHeaders = { Authorization: `Bearer ${E2E_PRODUCER_KEY}` };

function send(hub: RunningHub, path: string, init: RequestInit): Promise<Response> {
  return fetch(new URL(`/v1/stream/${path}`, hub.url), { ...init, headers: { ...producerHeaders, ...(init.headers ?? {}) } });
}

describe("the official client against Dovetail", () => {
  it("a producer writes with IdempotentProducer; the user reads it back, then follows it live", async () => {
    const hub = await startHub();
    try {
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
    } finally {
      await hub.stop();
    }
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
