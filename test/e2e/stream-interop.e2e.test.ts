// A job's output between clients nobody here wrote and the Dovetail SDK, on a real port:
// the official @durable-streams/client appends through IdempotentProducer with batching
// while its SSE and long-poll readers tail the output with the owner's token, and the
// Dovetail SDK follows the same output over its socket. All of them end with the same bytes.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DurableStream, IdempotentProducer, stream } from "@durable-streams/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient } from "../../packages/client/src/index";
import { concatBytes } from "../../src/bytes";
import { E2E_PRODUCER_KEY, startHub as startPersistentHub } from "./harness";
import { type Hub, startHub, uniqueId, until } from "./hub";

let hub: Hub;

beforeAll(async () => {
  hub = await startHub();
});

afterAll(async () => {
  await hub?.dispose();
});

const producerHeaders = { Authorization: `Bearer ${E2E_PRODUCER_KEY}` };
const encoder = new TextEncoder();

/** A reader of the official client in `live` mode, collecting every byte it is given. */
async function tail(url: string, token: string, live: "sse" | "long-poll") {
  const parts: Uint8Array[] = [];
  const res = await stream({ url, headers: { Authorization: `Bearer ${token}` }, offset: "-1", live });
  res.subscribeBytes((chunk) => {
    parts.push(chunk.data);
  });
  return { bytes: () => concatBytes(parts), cancel: () => res.cancel() };
}

describe("a job's output with the official client and the Dovetail SDK", () => {
  it("IdempotentProducer batches appends; SSE, long-poll and the SDK's socket all read the same bytes, and a catch-up read is byte-exact", async () => {
    const owner = uniqueId("owner");
    const id = uniqueId("job");
    await hub.produce("/v1/jobs", { id, owner, output: { content_type: "text/plain" } });
    const url = `${hub.url}/v1/stream/jobs/${id}/output`;
    const token = await hub.mintToken(owner);

    const sse = await tail(url, token, "sse");
    const longPoll = await tail(url, token, "long-poll");
    const client = createClient({ url: hub.url, token, lifecycle: false });
    const output = client.job(id).output;
    try {
      const handle = new DurableStream({ url, headers: producerHeaders, contentType: "text/plain" });
      const producer = new IdempotentProducer(handle, `writer-${id}`, { lingerMs: 5, maxBatchBytes: 512 });
      const words: string[] = [];
      for (let i = 0; i < 300; i++) {
        const word = `${["token", "жетон", "トークン", "🙂"][i % 4]}-${i} `;
        words.push(word);
        producer.append(word);
        // Some appends land while the readers are live, some arrive together.
        if (i % 50 === 49) await producer.flush();
      }
      await producer.flush();
      const expected = encoder.encode(words.join(""));

      const caughtUp = await stream({ url, headers: { Authorization: `Bearer ${token}` }, live: false });
      expect(new Uint8Array(await caughtUp.body())).toEqual(expected);
      // Fewer appends than words: the producer batched them.
      const head = await fetch(url, { method: "HEAD", headers: producerHeaders });
      const appends = Number((head.headers.get("Stream-Next-Offset") as string).split("_")[0]);
      expect(appends).toBeLessThan(300);

      await until("the SSE reader to have everything", () => sse.bytes().byteLength >= expected.byteLength, 15_000);
      await until("the long-poll reader to have everything", () => longPoll.bytes().byteLength >= expected.byteLength, 15_000);
      await until("the SDK to have everything", () => output.text.length >= words.join("").length, 15_000);
      expect(sse.bytes()).toEqual(expected);
      expect(longPoll.bytes()).toEqual(expected);
      expect(encoder.encode(output.text)).toEqual(expected);

      // The job ends: its output closes, and the SDK's reader says so.
      await hub.produce(`/v1/jobs/${id}/events`, { status: "completed" });
      await until("the SDK reader to see the close", () => output.closed, 10_000);
    } finally {
      sse.cancel();
      longPoll.cancel();
      client.close();
    }
  });
});

describe("a job's output across a restart of the hub", () => {
  const dir = mkdtempSync(join(tmpdir(), "dovetail-output-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("the official client and the SDK resume from an offset saved before the restart", async () => {
    const owner = uniqueId("owner");
    const id = uniqueId("job");
    let running = await startPersistentHub({ persistTo: dir });
    let saved: string;
    try {
      await running.produce("/v1/jobs", { id, owner, output: {} });
      const url = new URL(`/v1/stream/jobs/${id}/output`, running.url).href;
      const producer = new IdempotentProducer(new DurableStream({ url, headers: producerHeaders, contentType: "text/plain" }), "p", {
        lingerMs: 1,
      });
      producer.append("before the restart. ");
      await producer.flush();
      const read = await stream({ url, headers: { Authorization: `Bearer ${await running.token(owner)}` }, live: false });
      expect(await read.text()).toBe("before the restart. ");
      saved = read.offset;
    } finally {
      await running.stop();
    }

    running = await startPersistentHub({ persistTo: dir });
    const token = await running.token(owner);
    const client = createClient({ url: running.url.origin, token, lifecycle: false });
    try {
      const url = new URL(`/v1/stream/jobs/${id}/output`, running.url).href;
      await fetch(url, { method: "POST", headers: { ...producerHeaders, "Content-Type": "text/plain" }, body: "After it." });
      const resumed = await stream({ url, headers: { Authorization: `Bearer ${token}` }, offset: saved, live: false });
      expect(await resumed.text()).toBe("After it.");
      const reader = client.stream(`jobs/${id}/output`, { offset: saved });
      await until("the SDK to resume from the saved offset", () => reader.text === "After it.", 15_000);
    } finally {
      client.close();
      await running.stop();
    }
  });
});
