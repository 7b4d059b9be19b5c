// The `stream` scenario: live output on Durable Streams, Dovetail's hub against the reference
// server (@durable-streams/server, Node, in memory) in the same run. Per stream, one producer
// appends 20-byte chunks at a fixed rate through the official client's batching producer
// (IdempotentProducer); readers follow it live: on the hub 1 WebSocket (/v1/ws/stream) and
// 1 SSE reader, on the reference 1 SSE reader (it has no sockets). Half-way every reader is
// dropped and resumes from its last offset. Each chunk carries its send time, so every
// reader measures append-to-render latency, and every reader's bytes are compared with what
// was appended (lost or duplicated bytes must be 0).
import { DurableStream, IdempotentProducer, stream } from "@durable-streams/client";
import { SignJWT } from "jose";
import WebSocket from "ws";
import { nowMs } from "./clients.mjs";
import { BENCH_USER, JWT_SECRET, PRODUCER_KEY } from "./config.mjs";
import { cpuDelta } from "./proc.mjs";
import { summarize } from "./stats.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const CHUNK = 20;

/** A 20-byte chunk: "T", the send time in ms (13 digits), a 6-digit index. */
function chunk(i) {
  return `T${String(Math.floor(nowMs())).padStart(13, "0")}${String(i % 1_000_000).padStart(6, "0")}`;
}

/** Counts and times the whole chunks a reader renders, keeping the text to compare at the end. */
function readerState(kind, latencies) {
  return {
    kind,
    text: "",
    pending: "",
    offset: "-1",
    render(piece) {
      const at = nowMs();
      this.text += piece;
      this.pending += piece;
      while (this.pending.length >= CHUNK) {
        latencies[this.kind].push(at - Number(this.pending.slice(1, 14)));
        this.pending = this.pending.slice(CHUNK);
      }
    },
  };
}

function socketReader(base, path, token, state) {
  let ws;
  const open = () =>
    new Promise((resolve, reject) => {
      const url = `${base.replace(/^http/, "ws")}/v1/ws/stream/${path}?offset=${state.offset}`;
      ws = new WebSocket(url, ["dovetail.v1", `bearer.${token}`], { perMessageDeflate: false });
      const timer = setTimeout(() => reject(new Error("stream socket: no connected frame in 10 s")), 10_000);
      ws.on("message", (raw) => {
        const frame = JSON.parse(raw.toString());
        if (frame.type === "connected") {
          // "-1" resolves to the stream's first offset; a resume names its own.
          state.offset = frame.data.offset;
          clearTimeout(timer);
          resolve();
        } else if (frame.type === "stream:data" && frame.data.offset === state.offset && !frame.data.partial) {
          state.render(frame.data.data);
          state.offset = frame.data.next_offset;
        }
      });
      ws.on("error", reject);
    });
  return { open, drop: () => ws?.terminate(), close: () => ws?.close() };
}

function sseReader(base, path, headers, state) {
  let res;
  const open = async () => {
    res = await stream({ url: `${base}/v1/stream/${path}`, headers, offset: state.offset, live: "sse" });
    res.subscribeText((batch) => {
      state.render(batch.text);
      state.offset = batch.offset;
    });
  };
  return { open, drop: () => res?.cancel(), close: () => res?.cancel() };
}

/** Runs the scenario against `url`; `kind` is "hub" or "ds-ref"; `mark` snapshots the server. */
export async function streamScenario({ kind, url: rawUrl, params, mark }) {
  const url = rawUrl.replace(/\/+$/, "");
  const { streams: n, rate, seconds, dropAtMs } = params;
  const hub = kind === "hub";
  const producerHeaders = hub ? { Authorization: `Bearer ${PRODUCER_KEY}` } : {};
  const token = hub
    ? await new SignJWT({})
        .setProtectedHeader({ alg: "HS256" })
        .setSubject(BENCH_USER)
        .setExpirationTime("1h")
        .sign(new TextEncoder().encode(JWT_SECRET))
    : "";
  const readerHeaders = hub ? { Authorization: `Bearer ${token}` } : {};
  const run = `${Date.now().toString(36)}`;
  const paths = Array.from({ length: n }, (_, i) => `users/${BENCH_USER}/bench-${run}-${i}`);
  const latencies = { ws: [], sse: [] };

  const handles = await Promise.all(
    paths.map((p) => DurableStream.create({ url: `${url}/v1/stream/${p}`, headers: producerHeaders, contentType: "text/plain" })),
  );
  const beforeReaders = await mark("before-readers");
  const readers = [];
  for (const path of paths) {
    const sse = readerState("sse", latencies);
    readers.push({ state: sse, conn: sseReader(url, path, readerHeaders, sse), path });
    if (hub) {
      const ws = readerState("ws", latencies);
      readers.push({ state: ws, conn: socketReader(url, path, token, ws), path });
    }
  }
  for (const r of readers) await r.conn.open();
  await sleep(300);
  const a = await mark("start");

  const producers = handles.map((h, i) => new IdempotentProducer(h, `bench-${run}-${i}`, { lingerMs: 5 }));
  const sent = paths.map(() => []);
  const total = rate * seconds;
  const start = performance.now();
  let dropped = false;
  for (let tick = 0; tick < total; tick++) {
    const due = start + (tick * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    for (const [i, producer] of producers.entries()) {
      const piece = chunk(tick);
      sent[i].push(piece);
      producer.append(piece);
    }
    if (!dropped && performance.now() - start >= dropAtMs) {
      dropped = true;
      // Every reader drops and resumes from the last offset it rendered.
      for (const r of readers) r.conn.drop();
      await Promise.all(readers.map((r) => r.conn.open()));
    }
  }
  await Promise.all(producers.map((p) => p.flush()));
  const expected = sent.map((s) => s.join(""));
  const drainStart = performance.now();
  while (performance.now() - drainStart < 15_000 && readers.some((r) => r.state.text.length < expected[paths.indexOf(r.path)].length)) {
    await sleep(50);
  }
  const b = await mark("end");

  let bytesLost = 0;
  let bytesDuplicated = 0;
  let delivered = 0;
  for (const r of readers) {
    const want = expected[paths.indexOf(r.path)];
    const got = r.state.text;
    if (got !== want) {
      let same = 0;
      while (same < got.length && same < want.length && got[same] === want[same]) same++;
      bytesLost += want.length - same;
      bytesDuplicated += got.length - same;
    }
    delivered += Math.floor(got.length / CHUNK);
  }
  const offsets = await Promise.all(
    paths.map(async (p) =>
      (await fetch(`${url}/v1/stream/${p}`, { method: "HEAD", headers: producerHeaders })).headers.get("Stream-Next-Offset"),
    ),
  );
  const appends = offsets.map((o) => (hub && o ? Number(o.split("_")[0]) : null)).filter((x) => x !== null);
  for (const r of readers) r.conn.close();
  await Promise.all(producers.map((p) => p.close().catch(() => {})));

  const server = cpuDelta(a.server, b.server);
  const wallMs = b.at - a.at;
  const clientUs = b.client.user + b.client.system - (a.client.user + a.client.system);
  const all = [...latencies.ws, ...latencies.sse];
  return {
    expected: total * n * (hub ? 2 : 1),
    deliveries: delivered,
    loss: total * n * (hub ? 2 : 1) - delivered,
    duplicates: 0,
    bytesLost,
    bytesDuplicated,
    latency: summarize(all),
    wsLatency: summarize(latencies.ws),
    sseLatency: summarize(latencies.sse),
    deliveriesPerSec: (delivered * 1000) / wallMs,
    serverCpuUs: server.cpuUs,
    serverUsPerAppend: server.cpuUs / (total * n),
    serverUsPerDelivery: delivered ? server.cpuUs / delivered : null,
    serverCpuPct: (server.cpuUs / 1000 / wallMs) * 100,
    clientCpuPct: (clientUs / 1000 / wallMs) * 100,
    memory: { rssKbPerSocket: (a.server.rssKb - beforeReaders.server.rssKb) / readers.length },
    // One SQLite row per append (plus the stream's metadata and producer rows): what the batching producer made of the chunks.
    sqlRowsPerStream: appends.length ? appends.reduce((x, y) => x + y, 0) / appends.length : null,
    readers: readers.length,
    wallMs,
    publishMode: `${n} streams × ${rate} chunks/s × ${seconds} s, ${CHUNK} B each, IdempotentProducer (lingerMs 5)`,
  };
}
