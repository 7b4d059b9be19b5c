// The markdown table (medians of the runs) and the medians themselves.
import { median } from "./stats.mjs";

const get = (obj, path) => path.split(".").reduce((o, k) => (o == null ? undefined : o[k]), obj);

const METRICS = [
  "deliveries",
  "expected",
  "loss",
  "duplicates",
  "orderErrors",
  "deliveriesPerSec",
  "latency.p50",
  "latency.p99",
  "latency.max",
  "serverUsPerDelivery",
  "serverCpuPct",
  "clientCpuPct",
  "frameBytes",
  "memory.rssKbPerSocket",
  "memory.pssKbPerSocket",
  "memory.idleRssKb",
  "idleServerCpuUs",
  "publishPerSec",
  "serverUsPerPublish",
  "serverUsPerUpdate",
  "publishErrors",
  "connectFailures",
  "reconnectFailures",
  "serverUsPerAppend",
  "bytesLost",
  "bytesDuplicated",
  "wsLatency.p50",
  "wsLatency.p99",
  "sseLatency.p50",
  "sseLatency.p99",
  "sqlRowsPerStream",
];

/** Median of each metric across runs; loss/duplicates also keep their worst run. */
export function medians(runs) {
  const out = {};
  for (const m of METRICS) {
    const v = median(runs.map((r) => get(r, m)));
    if (v !== null) out[m] = v;
  }
  for (const m of ["loss", "duplicates", "orderErrors", "publishErrors", "connectFailures", "bytesLost", "bytesDuplicated"]) {
    const xs = runs.map((r) => get(r, m)).filter((x) => typeof x === "number");
    if (xs.length) out[`${m}.worst`] = Math.max(...xs);
  }
  out.runs = runs.length;
  out.clientBoundRuns = runs.filter((r) => r.clientBound).length;
  out.publishMode = runs[0]?.publishMode;
  return out;
}

const f = (v, digits = 0) => (v === undefined || v === null ? "–" : Number(v).toFixed(digits));
const ms = (v) => (v === undefined || v === null ? "–" : Number(v).toFixed(v < 10 ? 2 : 1));

export const SCENARIO_TITLES = {
  s1: "S1 1 ch × subs, burst",
  s2: "S2 ch × subs, round-robin",
  s3: "S3 idle sockets",
  s4: "S4 1 ch, fixed rate",
  s5: "S5 reconnect storm",
  p0: "P0 publish, 0 subs",
  p1: "P1 bulk job updates",
  stream: "Streams: 50 × 50 chunks/s, WS + SSE",
};

/** `results[server][scenario] = medians` -> markdown. */
export function table(results, labels) {
  const lines = [
    "| scenario | server | deliveries/s | p50 ms | p99 ms | max ms | loss (worst) | dup | server µs/delivery | server CPU % | client CPU % | frame B | memory |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
  ];
  const scenarios = [...new Set(Object.values(results).flatMap((r) => Object.keys(r)))];
  const order = ["p0", "p1", "s1", "s2", "s3", "s4", "s5", "stream"];
  scenarios.sort((a, b) => order.indexOf(a) - order.indexOf(b));
  for (const sc of scenarios) {
    for (const [server, byScenario] of Object.entries(results)) {
      const m = byScenario[sc];
      if (!m) continue;
      const label = labels[server] ?? server;
      if (sc === "stream") {
        lines.push(
          `| ${SCENARIO_TITLES[sc]} | ${label} | ${f(m.deliveriesPerSec)} chunks/s | ${ms(m["latency.p50"])} | ${ms(m["latency.p99"])} (WS ${ms(m["wsLatency.p99"])}, SSE ${ms(m["sseLatency.p99"])}) | ${ms(m["latency.max"])} | ${f(m["bytesLost.worst"])} B | ${f(m["bytesDuplicated.worst"])} B | ${f(m.serverUsPerDelivery, 2)} (${f(m.serverUsPerAppend, 1)} µs/append) | ${f(m.serverCpuPct)} | ${f(m.clientCpuPct)} | | ${f(m["memory.rssKbPerSocket"], 1)} KiB RSS/reader; ${f(m.sqlRowsPerStream)} appends (SQL rows)/stream |`,
        );
        continue;
      }
      if (sc === "p0") {
        lines.push(
          `| ${SCENARIO_TITLES[sc]} | ${label} | ${f(m.publishPerSec)} publishes/s | | | | | | ${f(m.serverUsPerPublish)} µs/publish | | ${f(m.clientCpuPct)} | | |`,
        );
        continue;
      }
      if (sc === "p1") {
        lines.push(
          `| ${SCENARIO_TITLES[sc]} | ${label} | ${f(m.publishPerSec)} updates/s | | | | | | ${f(m.serverUsPerUpdate)} µs/update | | ${f(m.clientCpuPct)} | | |`,
        );
        continue;
      }
      const mem =
        sc === "s3" ? `${f(m["memory.rssKbPerSocket"], 1)} KiB RSS/socket, ${f(m["memory.pssKbPerSocket"], 1)} KiB PSS/socket` : "";
      const bound = m.clientBoundRuns ? ` ⚠ client-bound ${m.clientBoundRuns}/${m.runs}` : "";
      lines.push(
        `| ${SCENARIO_TITLES[sc]} | ${label} | ${f(m.deliveriesPerSec)} | ${ms(m["latency.p50"])} | ${ms(m["latency.p99"])} | ${ms(m["latency.max"])} | ${f(m.loss)} (${f(m["loss.worst"])}) | ${f(m.duplicates)} | ${f(m.serverUsPerDelivery, 2)} | ${f(m.serverCpuPct)} | ${f(m.clientCpuPct)}${bound} | ${f(m.frameBytes)} | ${mem} |`,
      );
    }
  }
  return lines.join("\n");
}

/** Target checks against the medians (the targets are listed in docs/benchmarks.md). */
export function targets(results) {
  const hub = results.hub ?? {};
  const floor = results.floor ?? {};
  const py = results.pysocketio ?? {};
  const out = [];
  const lossAll = Object.entries(results).flatMap(([server, r]) =>
    Object.entries(r)
      .filter(([sc]) => !sc.startsWith("p"))
      .map(([sc, m]) => ({ server, sc, worst: m["loss.worst"] ?? 0, dups: m["duplicates.worst"] ?? 0, gaps: m["orderErrors.worst"] ?? 0 })),
  );
  const hubLoss = lossAll.filter((x) => x.server.startsWith("hub"));
  out.push({
    target: "Hub: zero loss, duplicates and gaps in every scenario (worst run), S5 included",
    met: hubLoss.length === 0 ? null : hubLoss.every((x) => x.worst === 0 && x.dups === 0 && x.gaps === 0),
    detail: hubLoss.map((x) => `${x.sc}:${x.worst}/${x.dups}/${x.gaps}`).join(" "),
  });
  const cmp = (name, a, b, factor) => {
    if (a == null || b == null) return { target: name, met: null, detail: "not measured" };
    const ratio = a / b;
    return { target: name, met: ratio <= factor, detail: `${a.toFixed(1)} vs ${b.toFixed(1)} (${ratio.toFixed(2)}x)` };
  };
  out.push(cmp("P0 hub µs/publish at most 1.5x the floor's", hub.p0?.serverUsPerPublish, floor.p0?.serverUsPerPublish, 1.5));
  out.push(cmp("S2 hub µs/delivery at most 2x the floor's", hub.s2?.serverUsPerDelivery, floor.s2?.serverUsPerDelivery, 2));
  out.push(cmp("S1 hub µs/delivery within 1.1x of the floor's", hub.s1?.serverUsPerDelivery, floor.s1?.serverUsPerDelivery, 1.1));
  const p1 = hub.p1?.serverUsPerUpdate;
  const p1Floor = results["floor-durable"]?.p1?.serverUsPerUpdate;
  out.push({
    target: "P1 bulk: at most 300 µs of server CPU per job update",
    met: p1 == null ? null : p1 <= 300,
    detail: p1 == null ? "not measured" : `${p1.toFixed(1)} µs/update${p1Floor == null ? "" : ` (floor-durable: ${p1Floor.toFixed(1)})`}`,
  });
  out.push(cmp("S2 hub µs/delivery at or below python-socketio's (aim)", hub.s2?.serverUsPerDelivery, py.s2?.serverUsPerDelivery, 1));
  const ref = results["ds-ref"] ?? {};
  out.push(
    cmp(
      "Streams: hub µs/delivered chunk <= 1.5x the reference server's",
      hub.stream?.serverUsPerDelivery,
      ref.stream?.serverUsPerDelivery,
      1.5,
    ),
  );
  const p99 = hub.stream?.["wsLatency.p99"];
  out.push({
    target: "Streams: hub WebSocket p99 append-to-render <= 100 ms",
    met: p99 == null ? null : p99 <= 100,
    detail: p99 == null ? "not measured" : `${p99.toFixed(1)} ms`,
  });
  const bytes = hub.stream ? (hub.stream["bytesLost.worst"] ?? 0) + (hub.stream["bytesDuplicated.worst"] ?? 0) : null;
  out.push({
    target: "Streams: 0 bytes lost or duplicated through a reconnect of every reader",
    met: bytes == null ? null : bytes === 0,
    detail: bytes == null ? "not measured" : `${bytes} B`,
  });
  return out;
}

export function targetsMarkdown(list) {
  return list.map((t) => `- ${t.met === null ? "?" : t.met ? "met" : "MISSED"}: ${t.target} — ${t.detail}`).join("\n");
}
