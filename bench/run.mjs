// `npm run bench [-- --quick] [--runs N] [--servers hub,floor,ws,socketio,pysocketio]
//                 [--scenarios p0,p1,s1,s2,...,stream,scale] [--scale-size F] [--storage disk|tmpfs]
//                 [--no-proxy] [--out DIR] [--cpuprofile DIR [--cpuprofile-phase room]]`
// Starts each server pinned to core 0 and a load generator pinned to core 1, runs every
// scenario on a fresh server, prints a markdown table of medians and writes
// <out>/latest.json and <out>/latest.md (quick mode: quick.json / quick.md).
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { cpus, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { CLIENT_BOUND_PCT, CLIENT_CORE, hubVars, SCALES, SERVER_CORE, scaleSized, scenarioVars } from "./config.mjs";
import { cpuProfiler, INSPECTOR_PORT } from "./cpuprofile.mjs";
import { perfProfiler } from "./perf.mjs";
import { machine, snapshotServer } from "./proc.mjs";
import { pinning, runLoad, startServer, stopAll, stopServer } from "./procs.mjs";
import { medians, table, targets, targetsMarkdown } from "./report.mjs";
import { scaleMarkdown, scaleTargets } from "./scale-report.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
const args = process.argv.slice(2);
const flag = (name) => args.includes(`--${name}`);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : fallback;
};

const quick = flag("quick");
const scale = quick ? SCALES.quick : SCALES.full;
const runs = Number(opt("runs", scale.runs));
const servers = opt("servers", "hub,hub-mfrl,floor,floor-durable,ws,socketio,pysocketio").split(",");
// `scale` brings its unsharded twin `scale-flat` along: the targets compare the two.
const scenarios = opt("scenarios", "p0,p1,s1,s2,s3,s4,s5")
  .split(",")
  .flatMap((sc) => (sc === "scale" ? ["scale", "scale-flat"] : [sc]));
const SCALE_SCENARIOS = ["scale", "scale-flat"];
const proxy = servers.includes("hub") && !flag("no-proxy") && (!quick || flag("proxy"));
const outDir = opt("out", join(here, "results"));
const baseName = quick ? "quick" : "latest";

process.env.WRANGLER_SEND_METRICS = "false";
process.env.CLOUDFLARE_CF_FETCH_ENABLED = "false";
const log = (...a) => console.error("[bench]", ...a);

function version(pkg, from = root) {
  try {
    return createRequire(join(from, "package.json"))(`${pkg}/package.json`).version;
  } catch {
    return null;
  }
}

function versions() {
  const wranglerDir = dirname(createRequire(join(root, "package.json")).resolve("wrangler/package.json"));
  const workerd = spawnSync(createRequire(join(wranglerDir, "package.json")).resolve("workerd/bin/workerd"), ["--version"], {
    encoding: "utf8",
  });
  return {
    node: process.version,
    wrangler: version("wrangler"),
    miniflare: version("miniflare", wranglerDir),
    workerd: (workerd.stdout || "").trim() || version("workerd", wranglerDir),
    ws: version("ws"),
    "socket.io": version("socket.io"),
    "socket.io-client": version("socket.io-client"),
  };
}

/** Bundles the worker as deployed (wrangler's esbuild), so workerd runs what ships. */
function bundleHub() {
  const dir = mkdtempSync(join(tmpdir(), "dovetail-bench-"));
  const res = spawnSync(process.execPath, [join(root, "node_modules/wrangler/bin/wrangler.js"), "deploy", "--dry-run", "--outdir", dir], {
    cwd: root,
    encoding: "utf8",
    env: process.env,
    timeout: 120_000,
  });
  if (res.status !== 0) throw new Error(`wrangler deploy --dry-run failed:\n${res.stdout}\n${res.stderr}`);
  return dir;
}

/** Debian's python-socketio and aiohttp, installed with apt when missing. */
const PYTHON = "/usr/bin/python3";
let pythonPeerChecked = false;
function ensurePythonPeer() {
  if (pythonPeerChecked) return;
  const importable = () => spawnSync(PYTHON, ["-c", "import socketio, aiohttp"], { encoding: "utf8" }).status === 0;
  if (!importable()) {
    log("python3-socketio / python3-aiohttp missing: installing them with apt-get");
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    const res = spawnSync("apt-get", ["install", "-y", "-qq", "python3-socketio", "python3-aiohttp"], {
      encoding: "utf8",
      env,
      timeout: 600_000,
    });
    if (res.status !== 0 || !importable()) throw new Error(`could not install python3-socketio and python3-aiohttp:\n${res.stderr ?? ""}`);
  }
  pythonPeerChecked = true;
}

function pythonPeerVersions() {
  // dpkg-query answers in its own order, not the arguments': each line names its package.
  const res = spawnSync("dpkg-query", ["-W", "-f", `$\{Package} $\{Version}\n`, "python3-socketio", "python3-aiohttp"], {
    encoding: "utf8",
  });
  const versions = new Map(
    (res.stdout ?? "")
      .trim()
      .split("\n")
      .map((line) => line.split(" ")),
  );
  return { "python3-socketio": versions.get("python3-socketio") ?? null, "python3-aiohttp": versions.get("python3-aiohttp") ?? null };
}

function serverArgv(server, bundleDir) {
  const node = process.execPath;
  switch (server) {
    case "hub":
      return [node, join(here, "servers/hub.mjs"), "--via", "direct", "--bundle", bundleDir];
    case "hub-mfrl":
      return [node, join(here, "servers/hub.mjs"), "--via", "direct", "--bundle", bundleDir, "--ratelimit", "miniflare"];
    case "floor":
    case "floor-durable":
      return [node, join(here, "servers/hub.mjs"), "--via", "direct", "--bundle", join(here, "floor")];
    case "pysocketio":
      ensurePythonPeer();
      return [PYTHON, join(here, "servers/python_socketio.py")];
    case "hub-wrangler":
      return [node, join(here, "servers/hub.mjs"), "--via", "wrangler"];
    case "ws":
      return [node, join(here, "servers/ws.mjs")];
    case "socketio":
      return [node, join(here, "servers/socketio.mjs")];
    case "ds-ref":
      return [node, join(here, "servers/ds-ref.mjs")];
    default:
      throw new Error(`unknown server ${server}`);
  }
}

const LABELS = {
  hub: "hub (workerd direct)",
  "hub-mfrl": "hub, Miniflare's disk-backed rate limiter",
  floor: "workerd floor (bench/floor)",
  "floor-durable": "workerd floor + 1 SQLite write/publish",
  "hub-wrangler": "hub (wrangler dev proxy)",
  ws: "ws (Node)",
  socketio: "Socket.IO 4 (Node)",
  pysocketio: "python-socketio (Debian)",
  "ds-ref": "@durable-streams/server (reference, in memory)",
};
/** The client side each server speaks: the floor speaks the hub's protocol, python-socketio Socket.IO's. */
const CLIENT_KIND = {
  hub: "hub",
  "hub-mfrl": "hub",
  "hub-wrangler": "hub",
  floor: "hub",
  "floor-durable": "hub",
  ws: "ws",
  socketio: "socketio",
  pysocketio: "socketio",
  "ds-ref": "ds-ref",
};
/**
 * Scenarios only some servers take (P1 is the bulk route, which the floor mimics; the scale
 * scenarios are the hub's own sharding and broadcast), and servers that take only some.
 */
const ONLY = { p1: ["hub", "hub-mfrl", "floor", "floor-durable"], scale: ["hub"], "scale-flat": ["hub"] };
const SUBSET = { "hub-mfrl": ["p0", "p1", "s2"], "floor-durable": ["p0", "p1", "s2"] };

const scaleSize = Number(opt("scale-size", 1));

function paramsFor(server, scenario) {
  const p =
    server === "hub-wrangler" && scenario === "s1"
      ? scale.proxyS1
      : SCALE_SCENARIOS.includes(scenario)
        ? scaleSized(scale.scale, scaleSize)
        : scale[scenario];
  // A scenario's own connect concurrency and drain wait, where it sets them, win.
  return { connectConcurrency: scale.connectConcurrency, drainIdleMs: scale.drainIdleMs, ...p };
}

const profiler = opt("perf") ? perfProfiler(opt("perf")) : null;
const cpuProfiles = opt("cpuprofile") ? cpuProfiler(opt("cpuprofile"), opt("cpuprofile-phase")) : null;

/**
 * Where workerd keeps the Durable Objects' SQLite files (Miniflare puts them under the OS
 * temp dir). On this machine's virtual disk every commit's fsync blocks workerd's one
 * thread, and the scale scenario's 12,000 connects wait on it far more than they compute:
 * it keeps them in tmpfs unless `--storage disk`. The other scenarios keep the disk, so
 * their figures stay comparable with earlier runs, unless `--storage tmpfs`.
 */
const TMPFS = "/dev/shm";
function storageEnv(scenario) {
  const storage = opt("storage", SCALE_SCENARIOS.includes(scenario) ? "tmpfs" : "disk");
  if (storage === "disk") return {};
  if (storage !== "tmpfs") throw new Error(`--storage takes disk or tmpfs, not ${storage}`);
  if (!existsSync(TMPFS)) throw new Error(`--storage tmpfs needs ${TMPFS}`);
  return { TMPDIR: TMPFS };
}

async function runOne(server, scenario, bundleDir) {
  const params = paramsFor(server, scenario);
  const vars = { ...hubVars(), ...scenarioVars(scenario, params), ...(server === "floor-durable" ? { FLOOR_DURABLE: "1" } : {}) };
  const env = CLIENT_KIND[server] === "hub" ? { BENCH_HUB_VARS_RESOLVED: JSON.stringify(vars) } : {};
  if (cpuProfiles && server !== "hub-wrangler" && CLIENT_KIND[server] === "hub") env.BENCH_HUB_INSPECTOR_PORT = String(INSPECTOR_PORT);
  const started = await startServer(SERVER_CORE, serverArgv(server, bundleDir), { ...env, ...storageEnv(scenario) });
  try {
    const kind = CLIENT_KIND[server];
    const marks = [];
    const result = await runLoad(
      CLIENT_CORE,
      join(here, "load.mjs"),
      { type: "run", scenario, kind, url: started.url, params },
      (label) => {
        const s = snapshotServer(started.child.pid);
        if (profiler) profiler.onMark(label, s, `${server}-${scenario}`);
        if (env.BENCH_HUB_INSPECTOR_PORT) cpuProfiles.onMark(label, `${server}-${scenario}`);
        marks.push({ label, cpuUs: s.cpuUs, rssKb: s.rssKb, pssKb: s.pssKb, pids: s.pids });
        return s;
      },
      SCALE_SCENARIOS.includes(scenario) ? (quick ? 180_000 : 900_000) : quick ? 60_000 : 300_000,
    );
    if (env.BENCH_HUB_INSPECTOR_PORT) await cpuProfiles.finished();
    result.clientBound = (result.clientCpuPct ?? 0) > CLIENT_BOUND_PCT;
    result.serverProcesses = marks[0]?.pids;
    result.params = params;
    result.storage = storageEnv(scenario).TMPDIR ? "tmpfs" : "disk";
    return result;
  } finally {
    await stopServer(started.child);
  }
}

async function main() {
  const t0 = Date.now();
  const load0 = machine.loadavg();
  const plan = [];
  const takes = (s, sc) => (!ONLY[sc] || ONLY[sc].includes(s)) && (!SUBSET[s] || SUBSET[s].includes(sc));
  // The stream scenario runs on the hub and the reference Durable Streams server only.
  for (const s of servers) for (const sc of scenarios) if (sc !== "stream" && takes(s, sc)) plan.push([s, sc]);
  if (scenarios.includes("stream")) plan.push(["hub", "stream"], ["ds-ref", "stream"]);
  if (proxy) for (const sc of ["p0", "s1"].filter((x) => scenarios.includes(x))) plan.push(["hub-wrangler", sc]);
  // --hub-bundle DIR runs a prebuilt (e.g. patched) bundle instead: for profiling experiments.
  const bundleDir = plan.some(([s]) => s === "hub" || s === "hub-mfrl") ? (opt("hub-bundle") ?? bundleHub()) : null;
  log(
    `${quick ? "quick" : "full"} mode, ${runs} run(s), ${plan.length} server×scenario cells; pinning ${pinning ? `server core ${SERVER_CORE}, load core ${CLIENT_CORE}` : "unavailable"}`,
  );
  const raw = {};
  const errors = [];
  try {
    for (let r = 0; r < runs; r++) {
      for (const [server, scenario] of plan) {
        // A scale run takes minutes: one unless --runs asks for more.
        if (r > 0 && SCALE_SCENARIOS.includes(scenario) && !opt("runs")) continue;
        const t = Date.now();
        let result;
        try {
          result = await runOne(server, scenario, bundleDir);
        } catch (err) {
          // One failed cell must not lose the others: record it and go on.
          errors.push({ run: r + 1, server, scenario, error: String(err?.stack ?? err).slice(0, 2000) });
          log(`run ${r + 1}/${runs} ${server} ${scenario}: FAILED ${String(err).slice(0, 300)}`);
          continue;
        }
        raw[server] ??= {};
        raw[server][scenario] ??= [];
        raw[server][scenario].push(result);
        if (result.room) {
          log(
            `run ${r + 1} ${server} ${scenario}: room ${result.room.deliveries} deliveries, ${result.room.serverUsPerDelivery?.toFixed(2)} µs/delivery, p99 ${result.room.latency?.p99?.toFixed(1)} ms (${((Date.now() - t) / 1000).toFixed(1)} s)`,
          );
          continue;
        }
        log(
          `run ${r + 1}/${runs} ${server} ${scenario}: ${result.deliveries ?? result.events} ` +
            `${result.loss !== undefined ? `loss ${result.loss} ` : ""}` +
            `${result.serverUsPerDelivery != null ? `${result.serverUsPerDelivery.toFixed(2)} µs/delivery ` : ""}` +
            `${result.serverUsPerPublish != null ? `${result.serverUsPerPublish.toFixed(0)} µs/publish ` : ""}` +
            `${result.serverUsPerUpdate != null ? `${result.serverUsPerUpdate.toFixed(0)} µs/update ` : ""}` +
            `${result.latency?.p99 != null ? `p99 ${result.latency.p99.toFixed(1)} ms ` : ""}` +
            `client ${result.clientCpuPct?.toFixed(0)}% (${((Date.now() - t) / 1000).toFixed(1)} s)`,
        );
      }
    }
  } finally {
    if (bundleDir && !opt("hub-bundle")) rmSync(bundleDir, { recursive: true, force: true });
  }
  const results = {};
  for (const [server, byScenario] of Object.entries(raw)) {
    results[server] = {};
    for (const [sc, list] of Object.entries(byScenario)) if (!SCALE_SCENARIOS.includes(sc)) results[server][sc] = medians(list);
  }
  const scaleRuns = { sharded: raw.hub?.scale?.[0], flat: raw.hub?.["scale-flat"]?.[0] };
  const hasScale = Boolean(scaleRuns.sharded || scaleRuns.flat);
  const checks = [...targets(results), ...(hasScale ? scaleTargets(scaleRuns) : [])];
  const md = table(results, LABELS) + (hasScale ? `\n\n${scaleMarkdown(scaleRuns)}` : "");
  const info = {
    date: new Date().toISOString(),
    mode: quick ? "quick" : "full",
    runs,
    durationS: Math.round((Date.now() - t0) / 1000),
    machine: {
      nproc: cpus().length,
      cpu: machine.cpuModel(),
      memMb: machine.memTotalMb(),
      loadavgBefore: load0,
      loadavgAfter: machine.loadavg(),
    },
    pinning: pinning ? { server: SERVER_CORE, load: CLIENT_CORE } : null,
    versions: { ...versions(), ...(servers.includes("pysocketio") ? pythonPeerVersions() : {}) },
    hubVars: Object.fromEntries(Object.entries(hubVars()).filter(([k]) => !/KEY|SECRET/.test(k))),
    scale,
  };
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, `${baseName}.json`), `${JSON.stringify({ info, results, targets: checks, errors, raw }, null, 2)}\n`);
  const doc = `# Bench ${info.mode} (${info.date})\n\nMedians of ${runs} run(s); load average before/after: ${load0.join(" ")} / ${info.machine.loadavgAfter.join(" ")}.\n\n${md}\n\nTargets:\n\n${targetsMarkdown(checks)}\n${errors.length ? `\nFailed cells: ${errors.map((e) => `run ${e.run} ${e.server} ${e.scenario}`).join(", ")} (see JSON)\n` : ""}`;
  writeFileSync(join(outDir, `${baseName}.md`), doc);
  console.log(doc);
  log(`wrote ${join(outDir, `${baseName}.json`)} in ${info.durationS} s`);
  if (errors.length) process.exitCode = 1;
}

main()
  .then(() => {
    stopAll();
    process.exit(process.exitCode ?? 0);
  })
  .catch((err) => {
    console.error(err);
    stopAll();
    process.exit(1);
  });
