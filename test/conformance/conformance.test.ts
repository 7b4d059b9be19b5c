// The official Durable Streams conformance suite (@durable-streams/server-conformance-tests,
// pinned) against the real worker on a real port, through a proxy that adds the producer
// key. Tests the hub does not pass, if any, are listed in docs/streams.md with the reason.
import { runConformanceTests } from "@durable-streams/server-conformance-tests";
import { afterAll, beforeAll } from "vitest";
import { E2E_PRODUCER_KEY, type RunningHub, startHub } from "../e2e/harness";
import { type ProducerProxy, startProducerProxy } from "./producer-proxy";

// A short long-poll timeout keeps the suite quick: several tests wait for it to pass.
export const CONFORMANCE_LONG_POLL_MS = 3_000;

const options = { baseUrl: "", longPollTimeoutMs: CONFORMANCE_LONG_POLL_MS };
let hub: RunningHub | undefined;
let proxy: ProducerProxy | undefined;

beforeAll(async () => {
  hub = await startHub({ vars: { STREAM_LONG_POLL_TIMEOUT_MS: String(CONFORMANCE_LONG_POLL_MS) } });
  proxy = await startProducerProxy(hub.url, E2E_PRODUCER_KEY);
  options.baseUrl = proxy.url;
  await warmUp(proxy.url);
});

/**
 * The first requests to a freshly started worker take seconds (compilation, first
 * objects). Several tests time a stream's TTL from the client's clock, so the worker is
 * warmed first, whichever test a filtered run (-t) starts with.
 */
async function warmUp(baseUrl: string): Promise<void> {
  for (let i = 0; i < 3; i++) {
    const url = `${baseUrl}/v1/stream/warm-up/${Date.now()}-${i}`;
    const steps: RequestInit[] = [
      { method: "PUT", headers: { "Content-Type": "text/plain", "Stream-TTL": "60" } },
      { method: "POST", headers: { "Content-Type": "text/plain" }, body: "warm" },
      { method: "GET" },
      { method: "HEAD" },
      { method: "DELETE" },
    ];
    for (const init of steps) {
      const res = await fetch(url, init);
      await res.arrayBuffer();
      if (res.status >= 300) throw new Error(`warm-up ${init.method} answered ${res.status}`);
    }
  }
}

afterAll(async () => {
  await proxy?.close();
  await hub?.stop();
});

runConformanceTests(options);
