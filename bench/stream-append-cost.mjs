// `node bench/stream-append-cost.mjs --bundle DIR [--mode none|sse|ws|root|head] [--appends N] [--profile]`
// Where a stream append's server CPU goes, one layer at a time. Starts the bundled hub on
// workerd as the bench does (core 0), makes 10 streams, and sends N plain 20-byte appends
// (2 in flight per stream) with: no reader ("none"), 1 SSE reader per stream ("sse"), 1
// stream socket per stream ("ws"); or, for the request floor, N `GET /` ("root") or N
// producer HEADs ("head": auth and the object hop, no write). Prints the hub's CPU µs per
// request. `--profile` also takes a V8 CPU profile of the hub's isolate (Worker and stream
// objects) through the inspector and prints the functions by self and inclusive time.
// Build DIR with `npx wrangler deploy --dry-run --outdir DIR`. Run it through the bench lock.
import { stream } from "@durable-streams/client";
import { SignJWT } from "jose";
import WebSocket from "ws";
import { BENCH_USER, hubVars, JWT_SECRET, PRODUCER_KEY, SERVER_CORE } from "./config.mjs";
import { INSPECTOR_PORT, startCpuProfile } from "./cpuprofile.mjs";
import { printProfile } from "./cpuprofile-summary.mjs";
import { cpuDelta, snapshotServer } from "./proc.mjs";
import { startServer, stopServer } from "./procs.mjs";

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : fallback;
};
const bundle = opt("bundle");
if (!bundle) throw new Error("--bundle DIR is required (npx wrangler deploy --dry-run --outdir DIR)");
const mode = opt("mode", "none");
const N = Number(opt("appends", "2000"));
const profile = args.includes("--profile");
const STREAMS = 10;
const IN_FLIGHT = 2;

const env = {
  BENCH_HUB_VARS_RESOLVED: JSON.stringify(hubVars()),
  ...(profile ? { BENCH_HUB_INSPECTOR_PORT: String(INSPECTOR_PORT) } : {}),
};
const server = await startServer(
  SERVER_CORE,
  [process.execPath, new URL("servers/hub.mjs", import.meta.url).pathname, "--via", "direct", "--bundle", bundle],
  env,
);
const url = server.url.replace(/\/+$/, "");
const producer = { Authorization: `Bearer ${PRODUCER_KEY}` };
const token = await new SignJWT({})
  .setProtectedHeader({ alg: "HS256" })
  .setSubject(BENCH_USER)
  .setExpirationTime("1h")
  .sign(new TextEncoder().encode(JWT_SECRET));
const paths = Array.from({ length: STREAMS }, (_, i) => `users/${BENCH_USER}/cost-${Date.now()}-${i}`);
for (const p of paths) {
  const res = await fetch(`${url}/v1/stream/${p}`, { method: "PUT", headers: { ...producer, "Content-Type": "text/plain" } });
  if (res.status !== 201) throw new Error(`PUT answered ${res.status}`);
}

let received = 0;
const closers = [];
for (const p of paths) {
  if (mode === "sse") {
    const res = await stream({ url: `${url}/v1/stream/${p}`, headers: { Authorization: `Bearer ${token}` }, offset: "now", live: "sse" });
    res.subscribeText((batch) => {
      received += batch.text.length;
    });
    closers.push(() => res.cancel());
  } else if (mode === "ws") {
    const ws = new WebSocket(`${url.replace(/^http/, "ws")}/v1/ws/stream/${p}?offset=now`, ["dovetail.v1", `bearer.${token}`]);
    await new Promise((resolve, reject) => {
      ws.on("message", (raw) => {
        const frame = JSON.parse(raw.toString());
        if (frame.type === "connected") resolve();
        else if (frame.type === "stream:data") received += frame.data.data.length;
      });
      ws.on("error", reject);
    });
    closers.push(() => ws.close());
  }
}

/** One request of the chosen kind. */
async function once(path) {
  if (mode === "root") return void (await (await fetch(`${url}/`)).arrayBuffer());
  const target = `${url}/v1/stream/${path}`;
  if (mode === "head") {
    const res = await fetch(target, { method: "HEAD", headers: producer });
    if (res.status !== 200) throw new Error(`HEAD answered ${res.status}`);
    return;
  }
  const res = await fetch(target, { method: "POST", headers: { ...producer, "Content-Type": "text/plain" }, body: "x".repeat(20) });
  if (res.status !== 204) throw new Error(`POST answered ${res.status}: ${await res.text()}`);
}

const inspector = profile ? await startCpuProfile(INSPECTOR_PORT) : null;
await new Promise((r) => setTimeout(r, 300));
const before = snapshotServer(server.child.pid);
const t0 = performance.now();
await Promise.all(
  paths.flatMap((path) =>
    Array.from({ length: IN_FLIGHT }, async (_, lane) => {
      for (let k = lane; k < N / STREAMS; k += IN_FLIGHT) await once(path);
    }),
  ),
);
const wallMs = performance.now() - t0;
await new Promise((r) => setTimeout(r, 300));
const cpu = cpuDelta(before, snapshotServer(server.child.pid));
console.log(
  JSON.stringify({
    mode,
    requests: N,
    wallMs: Math.round(wallMs),
    perSecond: Math.round(N / (wallMs / 1000)),
    cpuUsPerRequest: Math.round(cpu.cpuUs / N),
    received,
  }),
);
if (inspector) printProfile(await inspector.stop(), { per: N, top: 40 });
for (const close of closers) close();
await stopServer(server.child);
process.exit(0);
