// The scale scenario (`--scenarios scale`): one room sharded at CHANNEL_SHARD_SOCKETS, job
// channels, a broadcast to user sockets, and a reconnect of every socket, checked for
// loss, duplicates and gaps. `scale-flat` is the same room unsharded, for the CPU
// comparison. Runs inside the load generator (load.mjs), hub only.
import http from "node:http";
import { SignJWT } from "jose";
import WebSocket from "ws";
import { nowMs, PING_EVERY_MS, PING_FRAME, payload } from "./clients.mjs";
import { JWT_SECRET, PRODUCER_KEY } from "./config.mjs";
import { cpuDelta } from "./proc.mjs";
import { summarize } from "./stats.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const WS_OPTIONS = { perMessageDeflate: false, skipUTF8Validation: true, handshakeTimeout: 30_000 };
/** A socket that has not had its `connected` frame by then counts as failed. */
const CONNECT_TIMEOUT_MS = 30_000;

/** Progress on stderr: a scale run takes minutes, and a stuck phase must say where it is. */
function progressLog(name) {
  const t0 = performance.now();
  return (msg) => process.stderr.write(`[${name} +${((performance.now() - t0) / 1000).toFixed(1)}s] ${msg}\n`);
}

function numberAfter(text, key) {
  const at = text.indexOf(key);
  return at < 0 ? Number.NaN : Number.parseFloat(text.slice(at + key.length, at + key.length + 32));
}

/** Every delivery of one part of the load (the room, the jobs, the broadcast). */
class Tally {
  constructor(name, indices) {
    Object.assign(this, { name, indices, deliveries: 0, duplicates: 0, gaps: 0, latencies: [], next: 0 });
  }
  /** A new event index of this part, and every socket of `channel` now expects it. */
  expect(channel) {
    for (const sub of channel) sub.expected++;
    return this.next++;
  }
  /** The publish failed: no event, so nobody expects it (a timed-out one may still arrive: loss goes negative). */
  unexpect(channel) {
    for (const sub of channel) sub.expected--;
  }
  expected(subs) {
    return subs.reduce((n, s) => n + (s.tally === this ? s.expected : 0), 0);
  }
  summary(subs) {
    const expected = this.expected(subs);
    const latency = summarize(this.latencies);
    return {
      expected,
      deliveries: this.deliveries,
      loss: expected - this.deliveries,
      duplicates: this.duplicates,
      gaps: this.gaps,
      latency,
    };
  }
}

/** One socket that resumes like a real client: `since` = the last seq it saw, in its epoch. */
class Sub {
  constructor(ctx, path, user, tally) {
    Object.assign(this, { ctx, path, user, tally, epoch: null, lastSeq: 0, expected: 0, seen: new Uint8Array(tally.indices), ws: null });
  }
  connect() {
    const query = this.epoch ? `?since=${this.lastSeq}&epoch=${this.epoch}` : "";
    const ws = new WebSocket(
      `${this.ctx.wsBase}${this.path}${query}`,
      ["dovetail.v1", `bearer.${this.ctx.tokens.get(this.user)}`],
      WS_OPTIONS,
    );
    this.ws = ws;
    return new Promise((resolve, reject) => {
      let ready = false;
      const timer = setTimeout(() => {
        if (ready) return;
        ws.terminate();
        reject(new Error(`${this.path}: no "connected" frame within ${CONNECT_TIMEOUT_MS} ms (socket state ${ws.readyState})`));
      }, CONNECT_TIMEOUT_MS);
      ws.on("message", (data) => {
        if (ws !== this.ws) return; // a dropped socket's buffered frames: a real client has let go of it
        const text = data.toString();
        if (!ready) {
          if (!text.startsWith('{"type":"connected"')) return;
          const frame = JSON.parse(text);
          this.epoch = frame.data.epoch;
          if (!frame.data.resumed) this.lastSeq = frame.data.seq;
          ready = true;
          clearTimeout(timer);
          resolve();
          return;
        }
        const seq = numberAfter(text, '"seq":');
        if (Number.isNaN(seq)) return; // ephemeral: presence, heartbeat, pong
        if (seq !== this.lastSeq + 1) this.tally.gaps++;
        this.lastSeq = seq;
        const i = numberAfter(text, '"bench_i":');
        if (!Number.isInteger(i) || i < 0 || i >= this.tally.indices) return;
        if (this.seen[i]) {
          this.tally.duplicates++;
          return;
        }
        this.seen[i] = 1;
        this.tally.deliveries++;
        this.tally.latencies.push(nowMs() - numberAfter(text, '"bench_t":'));
      });
      ws.on("close", (code, reason) => {
        clearTimeout(timer);
        if (!ready) reject(new Error(`${this.path} closed before connected (${code} ${reason})`));
        // Closed by the server (not by the storm's terminate): a socket that misses events.
        else if (ws !== this.dropping) this.ctx.serverCloses.set(code, (this.ctx.serverCloses.get(code) ?? 0) + 1);
      });
      ws.on("error", (err) => {
        clearTimeout(timer);
        if (!ready) reject(err);
      });
    });
  }
  terminate() {
    this.dropping = this.ws;
    this.ws?.terminate();
  }
}

function poster(base) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  const url = new URL(base);
  const request = (method, path, body) =>
    new Promise((resolve) => {
      const text = body === undefined ? "" : JSON.stringify(body);
      const req = http.request(
        {
          host: url.hostname,
          port: url.port,
          path,
          method,
          agent,
          headers: {
            authorization: `Bearer ${PRODUCER_KEY}`,
            "content-type": "application/json",
            "content-length": Buffer.byteLength(text),
          },
        },
        (res) => {
          const chunks = [];
          res.on("data", (c) => chunks.push(c));
          res.on("end", () => {
            const raw = Buffer.concat(chunks).toString();
            let json = null;
            try {
              json = JSON.parse(raw);
            } catch {}
            resolve({ status: res.statusCode, json });
          });
        },
      );
      req.setTimeout(60_000, () => {
        process.stderr.write(`[scale] ${method} ${path}: no answer within 60 s, counted as an error\n`);
        req.destroy(new Error("timeout"));
      });
      // No answer at all (reset, closed, timed out): status 0, and the error says which.
      req.on("error", (err) => resolve({ status: 0, json: { error: { code: err.code ?? err.message } } }));
      req.end(text);
    });
  return { request, close: () => agent.destroy() };
}

async function tokens(users) {
  const map = new Map();
  const key = new TextEncoder().encode(JWT_SECRET);
  for (const user of users) {
    map.set(
      user,
      await new SignJWT({ rooms: ["bench-*"] }).setProtectedHeader({ alg: "HS256" }).setSubject(user).setExpirationTime("2h").sign(key),
    );
  }
  return map;
}

/** Opens every socket, `concurrency` at a time; each open is bounded by CONNECT_TIMEOUT_MS. */
async function connectAll(subs, concurrency, progress, what) {
  let next = 0;
  let done = 0;
  let failures = 0;
  const reasons = new Map();
  const start = performance.now();
  const report = () =>
    progress(`${what}: ${done}/${subs.length} done, ${failures} failed, ${((done * 1000) / (performance.now() - start)).toFixed(0)}/s`);
  const ticker = setInterval(report, 5000);
  const worker = async () => {
    while (next < subs.length) {
      const sub = subs[next++];
      try {
        await sub.connect();
      } catch (err) {
        failures++;
        const reason = String(err?.message ?? err).replace(/bench-[\w-]+/g, "…");
        reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
      }
      done++;
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, subs.length) }, worker));
  } finally {
    clearInterval(ticker);
  }
  report();
  for (const [reason, n] of reasons) progress(`${what}: ${n} x ${reason}`);
  return failures;
}

/** Fixed-rate publishing; `index` numbers this part's events 0..n-1 (the bench_i). */
async function publishAtRate(count, rate, send, onTick = () => {}) {
  const start = performance.now();
  const inflight = [];
  let errors = 0;
  for (let i = 0; i < count; i++) {
    const wait = start + (i * 1000) / rate - performance.now();
    if (wait > 0) await sleep(wait);
    onTick(i);
    inflight.push(send(i).then((r) => (r.status >= 200 && r.status < 300 ? 0 : errors++)));
  }
  await Promise.all(inflight);
  return errors;
}

/** Until every expected delivery arrived, or none did for idleMs, or maxMs in all; says which when short. */
async function drain(tallies, subs, { idleMs, maxMs = 120_000 }, progress) {
  const want = tallies.reduce((n, t) => n + t.expected(subs), 0);
  const got = () => tallies.reduce((n, t) => n + t.deliveries, 0);
  const start = performance.now();
  let last = got();
  let changed = start;
  let said = start;
  let why = null;
  while (got() < want) {
    await sleep(20);
    const now = performance.now();
    if (got() !== last) {
      last = got();
      changed = now;
    } else if (now - changed > idleMs) why = `none for ${idleMs} ms`;
    if (now - start > maxMs) why = `${maxMs} ms in all`;
    if (why) break;
    if (now - said > 5000) {
      said = now;
      progress(`drain ${tallies.map((t) => t.name).join("+")}: ${got()}/${want} delivered`);
    }
  }
  if (why) {
    const parts = tallies.map((t) => `${t.name} ${t.deliveries}/${t.expected(subs)}`).join(", ");
    progress(`drain stopped short (${why}): ${parts}`);
  }
}

/**
 * `scale`: the whole mixed load; `scale-flat`: the room alone, unsharded. Returns one
 * result with a part per load and the room's CPU per delivery.
 */
export async function scaleScenario({ url, params: p, flat, mark }) {
  const base = url.replace(/\/$/, "");
  const api = poster(base);
  const progress = progressLog(flat ? "scale-flat" : "scale");
  const stamp = Date.now().toString(36);
  const room = `bench-room-${stamp}`;
  const roomUsers = Array.from({ length: p.roomUsers }, (_, i) => `room-u${i}`);
  const jobs = flat
    ? []
    : Array.from({ length: p.jobs }, (_, i) => ({ id: `bench-job-${stamp}-${i}`, owner: `job-u${Math.floor(i / 10)}` }));
  const userUsers = flat ? [] : Array.from({ length: p.broadcastUsers }, (_, i) => `user-u${i}`);
  const ctx = {
    serverCloses: new Map(),
    wsBase: base.replace(/^http/, "ws"),
    tokens: await tokens([...roomUsers, ...new Set(jobs.map((j) => j.owner)), ...userUsers]),
  };
  const stormEvents = flat ? 0 : p.stormEvents;
  const roomTally = new Tally("room", p.roomEvents + stormEvents);
  const jobTally = new Tally("jobs", p.jobs * p.jobEvents + stormEvents);
  const userTally = new Tally("broadcast", p.broadcasts);
  const roomSubs = Array.from(
    { length: p.roomSockets },
    (_, i) => new Sub(ctx, `/v1/ws/room/${room}`, roomUsers[i % roomUsers.length], roomTally),
  );
  const jobSubs = new Map(
    jobs.map((j) => [j.id, Array.from({ length: p.socketsPerJob }, () => new Sub(ctx, `/v1/ws/job/${j.id}`, j.owner, jobTally))]),
  );
  const userSubs = userUsers.map((u) => new Sub(ctx, "/v1/ws/user", u, userTally));
  const subs = [...roomSubs, ...[...jobSubs.values()].flat(), ...userSubs];
  // A refused publish is no event: it is taken off what the sockets expect and counted by answer.
  const publishFailures = new Map();
  const publish = async (tally, channel, path, body) => {
    const res = await api.request("POST", path, body(payload(tally.expect(channel))));
    if (res.status < 200 || res.status > 299) {
      tally.unexpect(channel);
      const why = `${tally.name} HTTP ${res.status} ${res.json?.error?.code ?? ""}`.trim();
      if (!publishFailures.has(why)) progress(`publish refused: ${why} ${JSON.stringify(res.json)?.slice(0, 200)}`);
      publishFailures.set(why, (publishFailures.get(why) ?? 0) + 1);
    }
    return res;
  };
  const roomEvent = () => publish(roomTally, roomSubs, `/v1/rooms/${room}/events`, (data) => ({ type: "bench:tick", data }));
  const jobEvent = (job) => publish(jobTally, jobSubs.get(job), `/v1/jobs/${job}/events`, (data) => ({ data }));
  // Like the client SDK, every socket pings (answered by the runtime, the hub stays asleep):
  // the hub reaps a socket silent for two heartbeat intervals, and a scale run is longer.
  const pinger = setInterval(() => {
    for (const sub of subs) if (sub.ws?.readyState === WebSocket.OPEN) sub.ws.send(PING_FRAME);
  }, PING_EVERY_MS);
  const closes = () => Object.fromEntries(ctx.serverCloses);
  try {
    const put = await api.request("PUT", `/v1/rooms/${room}`, { visibility: "public" });
    if (put.status !== 200) throw new Error(`PUT room: HTTP ${put.status}`);
    for (const job of jobs) {
      const res = await api.request("POST", "/v1/jobs", { id: job.id, owner: job.owner });
      if (res.status !== 201) throw new Error(`creating ${job.id}: HTTP ${res.status}`);
    }
    // The room's sockets first, so its phase runs with nothing else open, as in scale-flat:
    // the job and user channels' heartbeat alarms would otherwise bill their idle cost to
    // the room's deliveries. The rest connect after the room's phase.
    const others = subs.slice(roomSubs.length);
    let connectMs = 0;
    let connectCpuUs = 0;
    const connect = async (group, what) => {
      const t0 = performance.now();
      const c0 = await mark(`${what}-start`);
      const failures = await connectAll(group, p.connectConcurrency, progress, what);
      const c1 = await mark(`${what}-end`);
      connectMs += performance.now() - t0;
      connectCpuUs += cpuDelta(c0.server, c1.server).cpuUs;
      await sleep(p.settleMs);
      return failures;
    };
    progress(`room and ${jobs.length} jobs created; opening ${roomSubs.length} room sockets`);
    let connectFailures = await connect(roomSubs, "connect");
    const roomStats = async () => (await api.request("GET", `/v1/rooms/${room}/stats`)).json;

    // 1. The room alone: its CPU per delivery and its latency, nothing else running.
    progress(`room: ${p.roomEvents} events at ${p.roomRate}/s to ${p.roomSockets} sockets`);
    const a = await mark("room-start");
    const roomErrors = await publishAtRate(p.roomEvents, p.roomRate, roomEvent);
    await drain([roomTally], subs, { idleMs: p.drainIdleMs }, progress);
    const b = await mark("room-end");
    const roomCpu = cpuDelta(a.server, b.server);
    const roomPhase = {
      sockets: p.roomSockets,
      events: p.roomEvents,
      ...roomTally.summary(subs),
      serverUsPerDelivery: roomTally.deliveries ? roomCpu.cpuUs / roomTally.deliveries : null,
      publishErrors: roomErrors,
      stats: await roomStats(),
    };
    if (ctx.serverCloses.size) progress(`sockets closed by the server so far, by code: ${JSON.stringify(closes())}`);
    if (flat)
      return {
        flat: true,
        connectFailures,
        connectMs,
        serverUsPerConnect: connectCpuUs / subs.length,
        serverCloses: closes(),
        room: roomPhase,
      };

    progress(`opening the other ${others.length} sockets`);
    connectFailures += await connect(others, "connect-others");
    const serverUsPerConnect = connectCpuUs / subs.length;
    // What every socket open and nothing published costs: heartbeat alarms and pings.
    const i0 = await mark("idle-start");
    await sleep(p.idleMs);
    const i1 = await mark("idle-end");
    const idleServerCpuPerS = cpuDelta(i0.server, i1.server).cpuUs / 1000 / (p.idleMs / 1000);

    // 2. Jobs: each round posts one event to every job channel.
    progress(`jobs: ${p.jobEvents} rounds of ${jobs.length} publishes`);
    const c = await mark("jobs-start");
    const jobErrors = await publishAtRate(p.jobEvents, p.jobRoundsPerS, async () => {
      const answers = await Promise.all(jobs.map((job) => jobEvent(job.id)));
      return answers.find((r) => r.status < 200 || r.status > 299) ?? answers[0];
    });
    await drain([jobTally], subs, { idleMs: p.drainIdleMs }, progress);
    const d = await mark("jobs-end");
    const jobsPhase = {
      channels: jobs.length,
      sockets: jobs.length * p.socketsPerJob,
      ...jobTally.summary(subs),
      serverUsPerPublish: cpuDelta(c.server, d.server).cpuUs / (jobs.length * p.jobEvents),
    };

    // 3. Broadcasts to every user socket: latency from the publish time in the data.
    const answers = [];
    progress(`broadcast: ${p.broadcasts} to ${userSubs.length} user sockets`);
    const e = await mark("broadcast-start");
    for (let i = 0; i < p.broadcasts; i++) {
      const index = userTally.expect(userSubs);
      const res = await api.request("POST", "/v1/broadcast", {
        type: "bench:broadcast",
        data: payload(index),
        event_id: `bench-${stamp}-${index}`,
      });
      answers.push({ status: res.status, ...res.json });
      await drain([userTally], subs, { idleMs: p.drainIdleMs }, progress);
    }
    const f = await mark("broadcast-end");
    const broadcastPhase = {
      users: userUsers.length,
      answers,
      ...userTally.summary(subs),
      serverUsPerUserReached: cpuDelta(e.server, f.server).cpuUs / Math.max(1, userTally.deliveries),
    };

    // 4. Every socket dropped at once while the room and the jobs keep publishing; all
    //    resume from their last seq.
    progress(`storm: ${p.stormEvents} room+job events at ${p.stormRate}/s, every socket dropped a third of the way in`);
    let dropped = false;
    const stormErrors = await publishAtRate(
      p.stormEvents,
      p.stormRate,
      async (i) => {
        const [r] = await Promise.all([roomEvent(), jobEvent(jobs[i % jobs.length].id)]);
        return r;
      },
      (i) => {
        if (!dropped && i >= p.stormEvents / 3) {
          dropped = true;
          for (const s of subs) s.terminate();
        }
      },
    );
    const r0 = await mark("reconnect-start");
    const reconnectFailures = await connectAll(subs, p.connectConcurrency, progress, "reconnect");
    const r1 = await mark("reconnect-end");
    const serverUsPerReconnect = cpuDelta(r0.server, r1.server).cpuUs / subs.length;
    await drain([roomTally, jobTally, userTally], subs, { idleMs: p.drainIdleMs }, progress);
    progress(`done; sockets closed by the server, by code: ${JSON.stringify(closes())}`);
    const stats = (await api.request("GET", "/v1/stats")).json;
    const reports = stats?.stats_shards?.reports ?? [];
    const mean = reports.reduce((x, y) => x + y, 0) / Math.max(1, reports.length);
    return {
      flat: false,
      connectFailures,
      connectMs,
      serverUsPerConnect,
      idleServerCpuPerS,
      reconnectFailures,
      serverUsPerReconnect,
      serverCloses: closes(),
      publishErrors: roomErrors + jobErrors + stormErrors,
      publishFailures: Object.fromEntries(publishFailures),
      room: { ...roomPhase, final: roomTally.summary(subs), statsAfterReconnect: await roomStats() },
      jobs: { ...jobsPhase, final: jobTally.summary(subs) },
      broadcast: { ...broadcastPhase, final: userTally.summary(subs) },
      statsShards: { reports, busiestOverMean: mean > 0 ? Math.max(...reports) / mean : null },
    };
  } finally {
    clearInterval(pinger);
    api.close();
  }
}
