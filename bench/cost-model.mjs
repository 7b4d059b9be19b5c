// The cost and scale model of docs/scaling.md, as code so every figure can be re-derived:
//   node bench/cost-model.mjs [bench/results/latest.json]
// Prices are Cloudflare's published Workers Paid / Durable Objects prices (see
// docs/scaling.md for the sources); the per-delivery and per-publish costs come from the
// bench's measurements (the scale scenario's sharded room, P0), or the defaults below.
import { existsSync, readFileSync } from "node:fs";

const MONTH_S = 30 * 86_400;

export const PRICES = {
  workerMinimum: 5, // $ per month, Workers Paid
  workerRequestsIncluded: 10e6,
  workerRequestPerM: 0.3,
  workerCpuMsIncluded: 30e6,
  workerCpuPerMMs: 0.02,
  doRequestsIncluded: 1e6,
  doRequestPerM: 0.15,
  doGbSIncluded: 400_000,
  doGbSPerM: 12.5,
  doMemoryGb: 0.128, // billed per object while active, whatever it uses
  wsIncomingRatio: 20, // 20 incoming WebSocket messages bill as 1 request
  rowsWrittenIncluded: 50e6,
  rowsWrittenPerM: 1.0,
  storageGbIncluded: 5,
  storageGbMonth: 0.2,
};

/** Load per connected user, the same at every size (docs/scaling.md, "The workload"). */
export const WORKLOAD = {
  reconnectsPerUserDay: 10,
  heartbeatS: 30, // HEARTBEAT_INTERVAL_S: one alarm per object with sockets per interval
  clientPingS: 20, // the SDK's ping: an incoming message (auto-answered, but billed 20:1)
  quietReportS: 300, // a channel with nothing new reports this often (QUIET_REPORT_MS)
  busyReportS: 5, // a channel with events reports at most this often (REPORT_EVERY_MS)
  notificationsPerUserHour: 1,
  roomShare: 0.2, // users also in a chat room of 50
  roomSize: 50,
  roomMessagesPerS: 0.1, // per chat room
  bigRoomViewers: 100_000, // one live room, capped at half the users
  bigRoomEventsPerS: 1,
  jobShare: 0.01, // users watching a running job
  jobUpdatesPerS: 10, // per job
  storedBytesPerObject: 64 * 1024,
  // SQLite rows written: a publish logs the event, trims the oldest, bumps two counters and
  // (jobs) the job row; a stats report upserts its part, buckets and totals; a heartbeat re-arms its timer.
  rowsPerPublish: 5,
  rowsPerStatsReport: 8,
  rowsPerHeartbeat: 2, // the timer row, and setAlarm (billed as one row)
};

/** Measured costs (µs of server CPU, local workerd). Replaced by the bench's when given. */
export const MEASURED = { usPerDelivery: 36, usPerPublish: 1750, source: "defaults (docs/benchmarks.md S1 and P0)" };

export function model(users, measured = MEASURED, w = WORKLOAD, p = PRICES) {
  const perMonth = (perS) => perS * MONTH_S;
  const rooms = Math.floor((users * w.roomShare) / w.roomSize);
  const big = Math.min(w.bigRoomViewers, Math.floor(users / 2));
  const bigShards = Math.max(0, Math.ceil(big / 10_000) - 1);
  const jobs = Math.floor(users * w.jobShare);
  const sockets = users + rooms * w.roomSize + big + jobs;
  const watched = users + rooms + 1 + bigShards + jobs; // objects with open sockets

  // Publishes and deliveries per second.
  const pub = {
    notifications: (users * w.notificationsPerUserHour) / 3600,
    rooms: rooms * w.roomMessagesPerS,
    big: w.bigRoomEventsPerS,
    jobs: jobs * w.jobUpdatesPerS,
  };
  const del = {
    notifications: pub.notifications,
    rooms: pub.rooms * w.roomSize,
    big: pub.big * big,
    jobs: pub.jobs,
  };
  const publishesPerS = Object.values(pub).reduce((a, b) => a + b, 0);
  const deliveriesPerS = Object.values(del).reduce((a, b) => a + b, 0);

  // Durable Object requests per second (RPC calls, alarms, upgrades, incoming messages / 20).
  const upgradesPerS = (users * w.reconnectsPerUserDay) / 86_400 + (sockets - users) * (w.reconnectsPerUserDay / 86_400);
  const req = {
    upgrades: upgradesPerS,
    heartbeats: watched / w.heartbeatS,
    // Quiet objects every 5 minutes; a channel with events at most every 5 s.
    statsReports:
      (users + bigShards) / w.quietReportS +
      rooms * Math.min(w.roomMessagesPerS, 1 / w.busyReportS) +
      (1 + bigShards) * Math.min(w.bigRoomEventsPerS, 1 / w.busyReportS) +
      jobs * Math.min(w.jobUpdatesPerS, 1 / w.busyReportS) +
      pub.notifications,
    pings: sockets / w.clientPingS / p.wsIncomingRatio,
    roomMessages: pub.rooms / p.wsIncomingRatio, // sent by clients over their sockets
    producerPosts: pub.notifications + pub.big + pub.jobs,
    shardCalls: pub.big * bigShards,
  };
  const doRequestsPerS = Object.values(req).reduce((a, b) => a + b, 0);
  const workerRequestsPerS = upgradesPerS + req.producerPosts;

  // Active time: CPU per delivery and per publish stand in for wall-clock handler time.
  const activeSPerS = (deliveriesPerS * measured.usPerDelivery + publishesPerS * measured.usPerPublish) / 1e6;
  const gbS = perMonth(activeSPerS) * p.doMemoryGb;
  const rowsWritten = perMonth(
    publishesPerS * w.rowsPerPublish + req.statsReports * w.rowsPerStatsReport + req.heartbeats * w.rowsPerHeartbeat,
  );
  const storageGb = (watched * w.storedBytesPerObject) / 1e9;

  const over = (used, included) => Math.max(0, used - included);
  const cost = {
    workerRequests: (over(perMonth(workerRequestsPerS), p.workerRequestsIncluded) / 1e6) * p.workerRequestPerM,
    // The Worker's own CPU: a few ms per upgrade or producer POST (JWT check, validation).
    workerCpu: (over(perMonth(workerRequestsPerS) * 2, p.workerCpuMsIncluded) / 1e6) * p.workerCpuPerMMs,
    doRequests: (over(perMonth(doRequestsPerS), p.doRequestsIncluded) / 1e6) * p.doRequestPerM,
    doDuration: (over(gbS, p.doGbSIncluded) / 1e6) * p.doGbSPerM,
    rowsWritten: (over(rowsWritten, p.rowsWrittenIncluded) / 1e6) * p.rowsWrittenPerM,
    storage: over(storageGb, p.storageGbIncluded) * p.storageGbMonth,
    minimum: p.workerMinimum,
  };
  const total = Object.values(cost).reduce((a, b) => a + b, 0);
  return {
    users,
    sockets,
    objects: { watched, rooms, bigRoomViewers: big, bigRoomShards: bigShards, jobs },
    perSecond: {
      publishes: publishesPerS,
      deliveries: deliveriesPerS,
      doRequests: doRequestsPerS,
      workerRequests: workerRequestsPerS,
      req,
    },
    hottest: {
      bigRoomRootRequestsPerS: pub.big + bigShards * pub.big + (bigShards + 1) / w.heartbeatS,
      bigRoomDeliveriesPerSPerObject: pub.big * Math.min(big, 10_000),
      statsShardReportsPerS: req.statsReports / 32,
      jobRequestsPerS: w.jobUpdatesPerS,
    },
    month: { doRequests: perMonth(doRequestsPerS), workerRequests: perMonth(workerRequestsPerS), gbS, rowsWritten, storageGb },
    cost,
    total,
  };
}

function measuredFrom(path) {
  if (!path || !existsSync(path)) return MEASURED;
  const report = JSON.parse(readFileSync(path, "utf8"));
  const room = report.raw?.hub?.scale?.[0]?.room;
  const p0 = report.results?.hub?.p0;
  return {
    usPerDelivery: room?.serverUsPerDelivery ?? MEASURED.usPerDelivery,
    usPerPublish: p0?.serverUsPerPublish ?? report.raw?.hub?.scale?.[0]?.jobs?.serverUsPerPublish ?? MEASURED.usPerPublish,
    source: path,
  };
}

/** Ably's per-minute tiers (ably.com/docs/platform/pricing, as stored): [units up to, $ per million]. */
const ABLY = {
  messages: [
    [50e6, 2.5],
    [500e6, 2.25],
    [5e9, 1.95],
    [20e9, 1.65],
    [50e9, 1.4],
    [Number.POSITIVE_INFINITY, 1.25],
  ],
  minutes: [
    [10e6, 1.0],
    [100e6, 0.95],
    [1e9, 0.85],
    [5e9, 0.75],
    [15e9, 0.65],
    [Number.POSITIVE_INFINITY, 0.6],
  ],
  // Base package by concurrent connections: Standard 10,000, Pro 50,000, else Enterprise (custom).
  packages: [
    [10_000, 29, "Standard"],
    [50_000, 399, "Pro"],
  ],
};

function tiered(units, tiers) {
  let left = units;
  let from = 0;
  let cost = 0;
  for (const [upTo, perM] of tiers) {
    const take = Math.min(left, upTo - from);
    if (take <= 0) break;
    cost += (take / 1e6) * perM;
    left -= take;
    from = upTo;
  }
  return cost;
}

/** The same load on Ably's per-minute pricing: every publish and every delivery is a message. */
export function ably(m) {
  const messages = (m.perSecond.publishes + m.perSecond.deliveries) * MONTH_S;
  const minutes = MONTH_S / 60;
  const usage =
    tiered(messages, ABLY.messages) + tiered(m.sockets * minutes, ABLY.minutes) + tiered(m.objects.watched * minutes, ABLY.minutes);
  const pkg = ABLY.packages.find(([limit]) => m.sockets <= limit);
  return { messages, usage, package: pkg ? pkg[2] : "Enterprise (price not published)", base: pkg ? pkg[1] : null };
}

const usd = (n) => `$${n.toLocaleString("en-US", { maximumFractionDigits: n < 100 ? 2 : 0 })}`;
const num = (n) => Math.round(n).toLocaleString("en-US");

/** The markdown table of docs/scaling.md. */
export function markdown(measured, w = WORKLOAD) {
  const rows = [10_000, 100_000, 1_000_000].map((users) => model(users, measured, w));
  const line = (label, pick) => `| ${label} | ${rows.map(pick).join(" | ")} |`;
  return [
    "| | 10k users | 100k users | 1M users |",
    "|---|---:|---:|---:|",
    line("open sockets", (m) => num(m.sockets)),
    line("objects with sockets", (m) => num(m.objects.watched)),
    line("publishes / s", (m) => num(m.perSecond.publishes)),
    line("deliveries / s", (m) => num(m.perSecond.deliveries)),
    line("Worker requests / month", (m) => num(m.month.workerRequests)),
    line("DO requests / month", (m) => num(m.month.doRequests)),
    line("DO GB-s / month", (m) => num(m.month.gbS)),
    line("SQLite rows written / month", (m) => num(m.month.rowsWritten)),
    line("Workers requests + CPU", (m) => usd(m.cost.workerRequests + m.cost.workerCpu)),
    line("DO requests", (m) => usd(m.cost.doRequests)),
    line("DO duration", (m) => usd(m.cost.doDuration)),
    line("SQLite rows written + storage", (m) => usd(m.cost.rowsWritten + m.cost.storage)),
    line("**total / month** (with the $5 minimum)", (m) => `**${usd(m.total)}**`),
    line("Ably messages / month", (m) => num(ably(m).messages)),
    line("Ably usage (messages + connection and channel minutes)", (m) => usd(ably(m).usage)),
    line("Ably package", (m) => {
      const a = ably(m);
      return a.base === null ? a.package : `${a.package} ${usd(a.base)}`;
    }),
  ].join("\n");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const measured = measuredFrom(process.argv[2]);
  console.log(
    `measured: ${measured.usPerDelivery.toFixed(1)} µs/delivery, ${measured.usPerPublish.toFixed(0)} µs/publish (${measured.source})\n`,
  );
  console.log(markdown(measured));
  if (process.argv.includes("--json")) {
    for (const users of [10_000, 100_000, 1_000_000]) console.log(JSON.stringify(model(users, measured), null, 2));
  }
}
