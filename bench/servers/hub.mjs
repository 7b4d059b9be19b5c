// The Dovetail hub for the bench, on one of two paths:
//   --via direct   : the bundled worker on workerd through the Miniflare that wrangler ships
//                    (v5, started here with v4-shaped options converted by Miniflare itself);
//                    clients talk straight to workerd, no proxy worker.
//   --via wrangler : `wrangler dev` (unstable_startWorker), whose proxy worker sits in front.
// Env vars come from bench/config.mjs (hubVars), passed in BENCH_HUB_VARS_RESOLVED.
//   --ratelimit memory (default) : the Rate Limiting bindings are an in-memory counter per
//                    key and period, as on Cloudflare (a counter in the location serving the
//                    request), reached over a service binding;
//   --ratelimit miniflare : Miniflare's own emulation, a Durable Object that writes every
//                    count to disk (a durable SQLite write per producer request).
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { serve } from "./common.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const via = opt("via", "direct");
const bundleDir = opt("bundle");
const ratelimit = opt("ratelimit", "memory");
const vars = JSON.parse(process.env.BENCH_HUB_VARS_RESOLVED ?? "{}");

/** wrangler's own miniflare (node_modules/miniflare may be another package's copy). */
async function wranglerMiniflare() {
  const require = createRequire(join(root, "package.json"));
  const wranglerPkg = require.resolve("wrangler/package.json");
  const fromWrangler = createRequire(wranglerPkg);
  const path = fromWrangler.resolve("miniflare");
  const version = fromWrangler("miniflare/package.json").version;
  return { mod: await import(path), version };
}

/** Every Durable Object binding in wrangler.toml, so the bench never drifts from the config. */
async function durableObjectsFromConfig() {
  const { unstable_readConfig } = await import("wrangler");
  const config = unstable_readConfig({ config: join(root, "wrangler.toml") });
  return Object.fromEntries(config.durable_objects.bindings.map((b) => [b.name, { className: b.class_name, useSQLite: true }]));
}

async function direct() {
  if (!bundleDir) throw new Error("--bundle <dir> is required with --via direct");
  const { mod, version } = await wranglerMiniflare();
  const { Miniflare, convertV4MiniflareOptions } = mod;
  let logLines = 0;
  const hub = {
    name: "hub",
    modules: true,
    modulesRoot: bundleDir,
    scriptPath: join(bundleDir, "index.js"),
    compatibilityDate: "2026-10-01", // wrangler.toml
    durableObjects: await durableObjectsFromConfig(),
    bindings: vars,
  };
  // Every bench client is one address and one key: the edge limits would measure
  // themselves, not fan-out. Their behaviour is tested in test/workers/limits.test.ts.
  const limits = {
    PRODUCER_RATE_LIMIT: { limit: 100_000_000, period: 10 },
    UPGRADE_RATE_LIMIT: { limit: 100_000_000, period: 60 },
    AUTH_FAILURE_RATE_LIMIT: { limit: 100_000_000, period: 60 },
  };
  let workers = [hub];
  if (ratelimit === "miniflare") {
    hub.ratelimits = Object.fromEntries(
      Object.entries(limits).map(([name, simple], i) => [name, { namespace_id: String(1001 + i), simple }]),
    );
  } else {
    hub.serviceBindings = Object.fromEntries(Object.keys(limits).map((name) => [name, { name: "ratelimit", entrypoint: name }]));
    workers = [hub, { name: "ratelimit", modules: true, script: memoryLimiter(limits), compatibilityDate: "2026-10-01" }];
  }
  // BENCH_HUB_INSPECTOR_PORT opens V8's inspector, for CPU profiles (bench/cpuprofile.mjs).
  const inspectorPort = process.env.BENCH_HUB_INSPECTOR_PORT ? Number(process.env.BENCH_HUB_INSPECTOR_PORT) : undefined;
  const options = convertV4MiniflareOptions({ host: "127.0.0.1", port: 0, workers, inspectorPort });
  // The hub's JSON log lines still cost workerd the console.log; here they are counted and
  // dropped instead of printed, as Workers Logs would take them off the box.
  options.handleStructuredLogs = () => {
    logLines++;
  };
  options.logRequests = false;
  const mf = new Miniflare(options);
  const url = await mf.ready;
  return { url: url.href, info: { via, miniflare: version, ratelimit }, stop: () => mf.dispose(), logLines: () => logLines };
}

/**
 * The Rate Limiting binding's API (`limit({key}) -> {success}`) as an in-memory fixed-window
 * counter per key: what the binding is on Cloudflare, without Miniflare's disk writes.
 */
function memoryLimiter(limits) {
  const classes = Object.entries(limits).map(
    ([name, { limit, period }]) => `export class ${name} extends Limiter { limitVal = ${limit}; period = ${period}; }`,
  );
  return `import { WorkerEntrypoint } from "cloudflare:workers";
const counts = new Map();
class Limiter extends WorkerEntrypoint {
  limit({ key = "" } = {}) {
    const window = Math.floor(Date.now() / (this.period * 1000));
    const id = this.period + ":" + key;
    const seen = counts.get(id);
    const count = seen && seen.window === window ? seen.count : 0;
    if (count >= this.limitVal) return { success: false };
    counts.set(id, { window, count: count + 1 });
    return { success: true };
  }
}
${classes.join("\n")}
export default { fetch() { return new Response(null, { status: 404 }); } };
`;
}

async function viaWrangler() {
  process.env.WRANGLER_SEND_METRICS = "false";
  process.env.CLOUDFLARE_CF_FETCH_ENABLED = "false";
  const { unstable_startWorker } = await import("wrangler");
  const bindings = {
    ...Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, { type: "plain_text", value: v }])),
    PRODUCER_RATE_LIMIT: { type: "ratelimit", namespace_id: "1001", simple: { limit: 100_000_000, period: 10 } },
    UPGRADE_RATE_LIMIT: { type: "ratelimit", namespace_id: "1002", simple: { limit: 100_000_000, period: 60 } },
    AUTH_FAILURE_RATE_LIMIT: { type: "ratelimit", namespace_id: "1003", simple: { limit: 100_000_000, period: 60 } },
  };
  const worker = await unstable_startWorker({
    config: join(root, "wrangler.toml"),
    bindings,
    dev: { server: { hostname: "127.0.0.1", port: 0 }, inspector: false, persist: false, logLevel: "error" },
  });
  await worker.ready;
  const url = await worker.url;
  return { url: url.href, info: { via }, stop: () => worker.dispose() };
}

serve(async () => (via === "wrangler" ? viaWrangler() : direct()));
