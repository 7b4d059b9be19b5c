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
});

afterAll(async () => {
  await proxy?.close();
  await hub?.stop();
});

runConformanceTests(options);
