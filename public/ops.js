// The ops page: polls GET /v1/stats every 2 s with a producer key held only in this
// module's memory (no storage, no cookie, no URL), and draws plain SVG line charts.
// Rates are differences of the since-start totals over the last ~10 s, because hubs report
// coalesced deltas every few seconds and a 2 s difference would saw-tooth.

const REFRESH_MS = 2_000;
const HISTORY_MS = 5 * 60_000;
const RATE_WINDOW_MS = 10_000;
const KINDS = [
  ["user", "#2f6fed"],
  ["job", "#1f9d55"],
  ["room", "#d98a00"],
  ["batch", "#8a4fd6"],
];
const SVG = "http://www.w3.org/2000/svg";

let key = null;
let timer = null;
/** Samples: { at, stats } (the raw totals), newest last, at most HISTORY_MS old. */
let samples = [];

const $ = (id) => document.getElementById(id);

$("signin").addEventListener("submit", (event) => {
  event.preventDefault();
  key = $("key").value.trim();
  $("key").value = "";
  if (!key) return;
  samples = [];
  $("signin-error").textContent = "";
  poll();
});

$("signout").addEventListener("click", () => signOut(""));

function signOut(message) {
  key = null;
  clearTimeout(timer);
  samples = [];
  $("board").hidden = true;
  $("signout").hidden = true;
  $("signin").hidden = false;
  $("signin-error").textContent = message;
  setState("", "signed out");
}

function setState(state, text) {
  $("state-dot").dataset.state = state;
  $("state-text").textContent = text;
}

async function poll() {
  if (!key) return;
  const sentWith = key;
  try {
    const res = await fetch("/v1/stats", { headers: { Authorization: `Bearer ${sentWith}` }, cache: "no-store" });
    if (key !== sentWith) return; // signed out (or in again) meanwhile
    if (res.status === 401) return signOut("That key was refused.");
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const stats = await res.json();
    const at = Date.now();
    samples.push({ at, stats });
    samples = samples.filter((s) => s.at >= at - HISTORY_MS);
    $("signin").hidden = true;
    $("board").hidden = false;
    $("signout").hidden = false;
    render();
    setState("live", `updated ${new Date(at).toLocaleTimeString()}`);
  } catch (err) {
    setState("error", `refresh failed: ${err.message}; retrying`);
  }
  if (key === sentWith) timer = setTimeout(poll, REFRESH_MS);
}

/** Per-second rate of a since-start counter at each sample, over the window before it. */
function rateSeries(name) {
  const out = [];
  let from = 0;
  for (let i = 1; i < samples.length; i++) {
    const now = samples[i];
    while (from < i - 1 && now.at - samples[from + 1].at >= RATE_WINDOW_MS) from++;
    const then = samples[from];
    const seconds = (now.at - then.at) / 1000;
    const delta = now.stats.since_start[name] - then.stats.since_start[name];
    // A shard restarting resets its totals: never draw a negative rate.
    out.push([now.at, seconds > 0 ? Math.max(0, delta / seconds) : 0]);
  }
  return out;
}

function render() {
  const latest = samples.at(-1).stats;
  $("open-total").textContent = fmt(latest.open_sockets.total);
  $("active-channels").textContent = fmt(latest.active_channels);
  $("since").textContent = new Date(latest.since).toLocaleString();
  const traffic = [
    { name: "deliveries", color: "#2f6fed", points: rateSeries("delivered") },
    { name: "publishes", color: "#1f9d55", points: rateSeries("published") },
  ];
  const trouble = [
    { name: "refusals", color: "#d98a00", points: rateSeries("refusals") },
    { name: "errors", color: "#d64545", points: rateSeries("errors") },
  ];
  const last = (series) => series.points.at(-1)?.[1] ?? 0;
  $("delivered-rate").textContent = fmt(last(traffic[0]), 1);
  $("published-rate").textContent = fmt(last(traffic[1]), 1);
  $("trouble-rate").textContent = fmt(last(trouble[0]) + last(trouble[1]), 1);
  $("delivered-rate").dataset.value = String(last(traffic[0]));
  const sockets = KINDS.map(([kind, color]) => ({ name: kind, color, points: samples.map((s) => [s.at, s.stats.open_sockets[kind]]) }));
  drawChart($("chart-sockets"), $("legend-sockets"), sockets);
  drawChart($("chart-traffic"), $("legend-traffic"), traffic);
  drawChart($("chart-trouble"), $("legend-trouble"), trouble);
  renderTop(latest.top_channels);
  renderShards(latest.stats_shards.reports);
}

function renderTop(top) {
  const body = $("top-channels");
  body.replaceChildren(
    ...top.map((c) => {
      const row = document.createElement("tr");
      row.dataset.channel = c.channel;
      for (const [value, cls] of [
        [c.channel, "channel"],
        [fmt(c.open_sockets), "n"],
        [fmt(c.published), "n"],
        [fmt(c.delivered), "n"],
      ]) {
        const cell = document.createElement("td");
        cell.className = cls;
        cell.textContent = value; // channel names come from producers: text, never HTML
        row.append(cell);
      }
      return row;
    }),
  );
}

function renderShards(reports) {
  const max = Math.max(1, ...reports);
  const mean = reports.reduce((a, b) => a + b, 0) / Math.max(1, reports.length);
  $("shards").replaceChildren(
    ...reports.map((n, i) => {
      const bar = document.createElement("i");
      bar.style.height = `${(n / max) * 100}%`;
      bar.title = `shard ${i}: ${n} reports`;
      return bar;
    }),
  );
  $("shard-spread").textContent = mean > 0 ? `(busiest ${(max / mean).toFixed(2)}× the mean of ${reports.length})` : "";
}

/** A line chart of `series` ({name, color, points: [[at, value]]}) over the last HISTORY_MS. */
function drawChart(svg, legend, series) {
  const width = svg.clientWidth || 560;
  const height = svg.clientHeight || 190;
  const pad = { left: 44, right: 8, top: 8, bottom: 18 };
  const now = samples.at(-1).at;
  // The last five minutes once there are that many; at least one minute before then.
  const start = Math.max(now - HISTORY_MS, Math.min(samples[0].at, now - 60_000));
  const span = now - start;
  const step = niceStep(Math.max(0, ...series.flatMap((s) => s.points.map((p) => p[1]))) / 4);
  const top = 4 * step;
  const x = (at) => pad.left + ((at - start) / span) * (width - pad.left - pad.right);
  const y = (v) => height - pad.bottom - (v / top) * (height - pad.top - pad.bottom);
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const nodes = [];
  for (let i = 0; i <= 4; i++) {
    const value = (top * i) / 4;
    nodes.push(el("line", { class: "grid", x1: pad.left, x2: width - pad.right, y1: y(value), y2: y(value) }));
    nodes.push(el("text", { x: pad.left - 6, y: y(value) + 3, "text-anchor": "end" }, fmt(value, 2)));
  }
  for (const [label, at] of [
    [`-${Math.round(span / 1000)} s`, start],
    ["now", now],
  ]) {
    nodes.push(el("text", { x: x(at), y: height - 4, "text-anchor": at === now ? "end" : "start" }, label));
  }
  for (const s of series) {
    if (s.points.length === 0) continue;
    const points = s.points.map(([at, v]) => `${x(at).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
    nodes.push(el("polyline", { points, stroke: s.color, "data-series": s.name }));
  }
  svg.replaceChildren(...nodes);
  legend.replaceChildren(
    ...series.map((s) => {
      const item = document.createElement("span");
      item.style.setProperty("--c", s.color);
      item.textContent = `${s.name} ${fmt(s.points.at(-1)?.[1] ?? 0, 1)}`;
      return item;
    }),
  );
}

function el(name, attrs, text) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** A grid step of 1, 2, 2.5 or 5 times a power of ten, at least `value` (and at least 0.25). */
function niceStep(value) {
  if (value <= 0.25) return 0.25;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * power >= value) return m * power;
  return 10 * power;
}

function fmt(n, digits = 0) {
  return Number(n).toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}
