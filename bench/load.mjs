// The load generator: one Node process (pinned to its own core by run.mjs), the same code
// for every server. It receives {scenario, kind, url, params} over IPC, asks the
// orchestrator for server /proc snapshots at phase boundaries (mark), and sends back one
// result. Every wait here is bounded in time.
import { makeAdapter, nowMs, payload } from "./clients.mjs";
import { cpuDelta } from "./proc.mjs";
import { scaleScenario } from "./scale.mjs";
import { summarize } from "./stats.mjs";
import { streamScenario } from "./stream.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let markSeq = 0;
const pendingMarks = new Map();
process.on("message", (msg) => {
  if (msg.type === "mark") pendingMarks.get(msg.id)?.(msg.snapshot);
  else if (msg.type === "run")
    run(msg).then(
      (result) => process.send({ type: "result", result }, () => process.exit(0)),
      (err) => process.send({ type: "error", error: String(err?.stack ?? err) }, () => process.exit(1)),
    );
});
process.on("disconnect", () => process.exit(2));

/** Asks the orchestrator to snapshot the server now; also records our own CPU. */
function mark(label) {
  const id = ++markSeq;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`mark ${label} timed out`)), 10_000);
    pendingMarks.set(id, (snapshot) => {
      clearTimeout(timer);
      pendingMarks.delete(id);
      resolve({ server: snapshot, client: process.cpuUsage(), at: performance.now() });
    });
    process.send({ type: "mark", id, label });
  });
}

/** A delivery collector shared by every subscriber of a scenario. */
function collector(events) {
  const c = {
    deliveries: 0,
    duplicates: 0,
    orderErrors: 0,
    latencies: [],
    frameBytes: 0,
    lastAt: 0,
    firstAt: 0,
    event(sub, i, t, seq) {
      const at = nowMs();
      if (!Number.isInteger(i) || i < 0 || i >= events) return;
      if (!sub.seen) sub.seen = new Uint8Array(events);
      if (sub.seen[i]) {
        c.duplicates++;
        return;
      }
      sub.seen[i] = 1;
      if (!Number.isNaN(seq) && sub.lastSeq && seq !== sub.lastSeq + 1) c.orderErrors++;
      c.deliveries++;
      c.latencies.push(at - t);
      c.lastAt = at;
    },
  };
  return c;
}

async function connectAll(adapter, plan, col, concurrency, onClose = () => {}) {
  const subs = [];
  let failures = 0;
  let next = 0;
  const handlers = {
    event: (sub, i, t, seq, bytes) => {
      if (!col.frameBytes) col.frameBytes = bytes;
      col.event(sub, i, t, seq);
    },
    close: (sub) => onClose(sub),
  };
  const worker = async () => {
    while (next < plan.length) {
      const sub = adapter.subscriber(plan[next++], handlers);
      try {
        await sub.connect();
        subs.push(sub);
      } catch {
        failures++;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, plan.length) }, worker));
  return { subs, failures };
}

/** Waits until `expected` deliveries, or no progress for idleMs, or maxMs in all. */
async function drain(col, expected, { idleMs = 5000, maxMs = 180_000 } = {}) {
  const start = performance.now();
  let last = col.deliveries;
  let lastChange = start;
  while (col.deliveries < expected && performance.now() - start < maxMs) {
    await sleep(20);
    if (col.deliveries !== last) {
      last = col.deliveries;
      lastChange = performance.now();
    } else if (performance.now() - lastChange > idleMs) break;
  }
}

async function publishFast(adapter, channels, events, concurrency) {
  let next = 0;
  let errors = 0;
  const worker = async () => {
    while (next < events) {
      const i = next++;
      const status = await adapter.publish(channels[i % channels.length], i);
      if (status < 200 || status > 299) errors++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return errors;
}

async function publishAtRate(adapter, channels, events, rate, onTick = () => {}) {
  const start = performance.now();
  const inflight = [];
  let errors = 0;
  for (let i = 0; i < events; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    onTick(performance.now() - start);
    inflight.push(
      adapter.publish(channels[i % channels.length], i).then((s) => {
        if (s < 200 || s > 299) errors++;
      }),
    );
  }
  await Promise.all(inflight);
  return errors;
}

function channelNames(prefix, n) {
  return Array.from({ length: n }, (_, k) => `${prefix}-${k}`);
}

function plan(channels, perChannel) {
  const out = [];
  for (let s = 0; s < perChannel; s++) for (const ch of channels) out.push(ch);
  return out;
}

function finish(col, expected, a, b, extra = {}) {
  const server = cpuDelta(a.server, b.server);
  const clientUs = b.client.user + b.client.system - (a.client.user + a.client.system);
  const wallMs = b.at - a.at;
  const lat = summarize(col.latencies);
  const activeMs = col.lastAt && extra.publishStart ? col.lastAt - extra.publishStart : wallMs;
  return {
    expected,
    deliveries: col.deliveries,
    loss: expected - col.deliveries,
    duplicates: col.duplicates,
    orderErrors: col.orderErrors,
    deliveriesPerSec: activeMs > 0 ? (col.deliveries * 1000) / activeMs : 0,
    latency: lat,
    serverCpuUs: server.cpuUs,
    serverUsPerDelivery: col.deliveries ? server.cpuUs / col.deliveries : null,
    serverCpuByProcess: server.byComm,
    serverCpuPct: (server.cpuUs / 1000 / wallMs) * 100,
    clientCpuPct: (clientUs / 1000 / wallMs) * 100,
    frameBytes: col.frameBytes,
    wallMs,
    ...extra,
  };
}

async function fanout(adapter, { prefix, channels: nChannels, perChannel, events, concurrency, rate, connectConcurrency, drainIdleMs }) {
  const channels = channelNames(prefix, nChannels);
  await adapter.setup(channels);
  const col = collector(events);
  const { subs, failures } = await connectAll(adapter, plan(channels, perChannel), col, connectConcurrency);
  await sleep(200);
  const a = await mark("start");
  const publishStart = nowMs();
  const publishErrors = rate
    ? await publishAtRate(adapter, channels, events, rate)
    : await publishFast(adapter, channels, events, concurrency);
  const publishMs = nowMs() - publishStart;
  await drain(col, events * perChannel, { idleMs: drainIdleMs });
  const b = await mark("end");
  for (const s of subs) s.close();
  return finish(col, events * perChannel, a, b, {
    subscribers: subs.length,
    connectFailures: failures,
    publishErrors,
    publishPerSec: (events * 1000) / publishMs,
    publishStart,
    publishMode: rate
      ? `fixed ${rate}/s`
      : concurrency === 1
        ? "sequential, as fast as accepted"
        : `as fast as accepted, ${concurrency} POSTs in flight`,
  });
}

/** S3: idle sockets; memory per socket after the wait, then one event to prove they live. */
async function idle(adapter, p) {
  const channels = channelNames("s3", p.channels);
  await adapter.setup(channels);
  await sleep(500);
  const base = await mark("baseline");
  const col = collector(1);
  const { subs, failures } = await connectAll(adapter, plan(channels, p.perChannel), col, p.connectConcurrency);
  const connected = await mark("connected");
  await sleep(p.waitMs);
  const after = await mark("idle");
  const n = subs.length || 1;
  const perSocket = (k) => (after.server[k] === null || base.server[k] === null ? null : (after.server[k] - base.server[k]) / n);
  // Wake every channel once: all sockets must still be there and get it.
  const wakeStart = nowMs();
  for (const ch of channels) await adapter.publish(ch, 0);
  await drain(col, subs.length, { idleMs: p.drainIdleMs, maxMs: 30_000 });
  const end = await mark("end");
  for (const s of subs) s.close();
  // After every client closed: what the server gives back tells held-per-socket memory
  // (freed) from allocator high-water marks (kept).
  await sleep(Math.min(5000, p.waitMs));
  const closed = await mark("closed");
  const result = finish(col, p.channels * p.perChannel, after, end, { publishStart: wakeStart });
  return {
    ...result,
    subscribers: subs.length,
    connectFailures: failures,
    memory: {
      baselineRssKb: base.server.rssKb,
      baselinePssKb: base.server.pssKb,
      connectedRssKb: connected.server.rssKb,
      idleRssKb: after.server.rssKb,
      idlePssKb: after.server.pssKb,
      afterCloseRssKb: closed.server.rssKb,
      rssKbPerSocket: perSocket("rssKb"),
      pssKbPerSocket: perSocket("pssKb"),
      waitMs: p.waitMs,
    },
    // Server CPU while the sockets sat idle (hibernated hub: ~0).
    idleServerCpuUs: cpuDelta(connected.server, after.server).cpuUs,
  };
}

/** S5: drop every subscriber at once mid-stream; they reconnect at once (hub: resume). */
async function storm(adapter, p) {
  const channels = channelNames("s5", 1);
  await adapter.setup(channels);
  const events = Math.round(p.rate * p.seconds);
  const col = collector(events);
  let dropping = false;
  let reconnects = 0;
  let reconnectFailures = 0;
  const pending = [];
  const onClose = (sub) => {
    if (!dropping || sub.reconnecting) return;
    sub.reconnecting = true;
    pending.push(
      sub.connect(adapter.resumes).then(
        () => {
          reconnects++;
          sub.reconnecting = false;
        },
        () => {
          reconnectFailures++;
        },
      ),
    );
  };
  const { subs, failures } = await connectAll(adapter, plan(channels, p.subscribers), col, p.connectConcurrency, onClose);
  await sleep(200);
  const a = await mark("start");
  const publishStart = nowMs();
  let dropped = false;
  const publishErrors = await publishAtRate(adapter, channels, events, p.rate, (elapsed) => {
    if (!dropped && elapsed >= p.dropAtMs) {
      dropped = true;
      dropping = true;
      for (const s of subs) s.terminate();
    }
  });
  const deadline = performance.now() + 30_000;
  while (reconnects + reconnectFailures < subs.length && performance.now() < deadline) await sleep(20);
  await Promise.allSettled(pending);
  dropping = false;
  await drain(col, events * p.subscribers, { idleMs: p.drainIdleMs });
  const b = await mark("end");
  for (const s of subs) s.close();
  return finish(col, events * p.subscribers, a, b, {
    subscribers: subs.length,
    connectFailures: failures,
    reconnects,
    reconnectFailures,
    publishErrors,
    publishStart,
    publishMode: `fixed ${p.rate}/s, all dropped at ${p.dropAtMs} ms`,
    resume: adapter.resumes,
  });
}

/** P0: publishes with nobody listening, to price one publish apart from its fan-out. */
async function publishOnly(adapter, p) {
  const channels = channelNames("p0", 1);
  await adapter.setup(channels);
  await sleep(200);
  const a = await mark("start");
  const t0 = nowMs();
  const publishErrors = await publishFast(adapter, channels, p.events, p.concurrency);
  const ms = nowMs() - t0;
  const b = await mark("end");
  const server = cpuDelta(a.server, b.server);
  return {
    events: p.events,
    publishErrors,
    publishPerSec: (p.events * 1000) / ms,
    serverUsPerPublish: server.cpuUs / p.events,
    serverCpuByProcess: server.byComm,
    clientCpuPct: ((b.client.user + b.client.system - a.client.user - a.client.system) / 1000 / (b.at - a.at)) * 100,
  };
}

/** P1: job updates through the bulk route, 100 jobs per request, with nobody listening. */
async function bulkUpdates(adapter, p) {
  if (!adapter.bulk) throw new Error("P1 needs the hub's bulk route");
  const jobs = channelNames("p1", p.jobs);
  await adapter.setup(jobs);
  await sleep(200);
  const a = await mark("start");
  const t0 = nowMs();
  let failedItems = 0;
  for (let u = 0; u < p.updates; u++) {
    const progress = Math.round(((u + 1) * 100) / (p.updates + 1));
    failedItems += await adapter.bulk(jobs.map((job, k) => ({ job, status: "running", progress, data: payload(u * p.jobs + k) })));
  }
  const ms = nowMs() - t0;
  const b = await mark("end");
  const server = cpuDelta(a.server, b.server);
  const updates = p.jobs * p.updates;
  return {
    events: updates,
    requests: p.updates,
    publishErrors: failedItems,
    publishPerSec: (updates * 1000) / ms,
    serverUsPerUpdate: server.cpuUs / updates,
    serverCpuByProcess: server.byComm,
    clientCpuPct: ((b.client.user + b.client.system - a.client.user - a.client.system) / 1000 / (b.at - a.at)) * 100,
  };
}

async function run({ scenario, kind, url, params }) {
  // Durable Streams, hub and reference server alike: plain HTTP and sockets, no adapter.
  if (scenario === "stream") return streamScenario({ kind, url, params, mark });
  const adapter = await makeAdapter(kind, url, { maxSockets: 16 });
  try {
    const cc = params.connectConcurrency;
    switch (scenario) {
      case "s1":
        return await fanout(adapter, {
          prefix: "s1",
          channels: 1,
          perChannel: params.subscribers,
          events: params.events,
          concurrency: params.concurrency,
          connectConcurrency: cc,
        });
      case "s2":
        return await fanout(adapter, {
          prefix: "s2",
          channels: params.channels,
          perChannel: params.perChannel,
          events: params.events,
          concurrency: params.concurrency,
          connectConcurrency: cc,
        });
      case "s3":
        return await idle(adapter, params);
      case "s4":
        return await fanout(adapter, {
          prefix: "s4",
          channels: 1,
          perChannel: params.subscribers,
          events: params.rate * params.seconds,
          rate: params.rate,
          connectConcurrency: cc,
        });
      case "s5":
        return await storm(adapter, params);
      case "p0":
        return await publishOnly(adapter, params);
      case "p1":
        return await bulkUpdates(adapter, params);
      case "scale":
      case "scale-flat":
        return await scaleScenario({ url, params, flat: scenario === "scale-flat", mark });
      default:
        throw new Error(`unknown scenario ${scenario}`);
    }
  } finally {
    adapter.close();
  }
}
