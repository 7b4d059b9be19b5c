// V8 CPU profiles of the hub's isolate (its Worker and its Durable Objects share one),
// through workerd's inspector: perf sees JavaScript only as "JIT code"; this names the
// functions. The hub server opens the inspector when BENCH_HUB_INSPECTOR_PORT is set.
// `npm run bench -- --cpuprofile DIR` writes DIR/<server>-<scenario>.cpuprofile between each
// scenario's "start" and "end" marks (with `--cpuprofile-phase room`, a scale part's own);
// `node bench/cpuprofile-summary.mjs FILE` reads one.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const INSPECTOR_PORT = 9330;

/** Starts profiling the hub's isolate; `stop()` answers the profile. */
export async function startCpuProfile(port = INSPECTOR_PORT) {
  const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
  // One target per worker: the hub, and the bench's rate limiter beside it.
  const target = targets.find((t) => /core:user:hub$/.test(t.title ?? ""));
  if (!target) throw new Error(`no hub isolate among ${targets.map((t) => t.title).join(", ")}`);
  const session = await connect(target.webSocketDebuggerUrl);
  await session.call("Profiler.enable");
  await session.call("Profiler.setSamplingInterval", { interval: 200 });
  await session.call("Profiler.start");
  return {
    async stop() {
      const { profile } = await session.call("Profiler.stop");
      session.close();
      return profile;
    },
  };
}

/**
 * For bench/run.mjs: marks are synchronous, the inspector is not, so the work queues on
 * `pending`. `phase` picks a scale scenario's part (its `<phase>-start` and `-end` marks).
 */
export function cpuProfiler(dir, phase) {
  const [startLabel, endLabel] = phase ? [`${phase}-start`, `${phase}-end`] : ["start", "end"];
  mkdirSync(dir, { recursive: true });
  let running = null;
  let pending = Promise.resolve();
  return {
    onMark(label, name) {
      if (label === startLabel && !running) pending = pending.then(async () => (running = await startCpuProfile()));
      else if (label === endLabel)
        pending = pending.then(async () => {
          if (!running) return;
          const profile = await running.stop();
          running = null;
          writeFileSync(join(dir, `${name}.cpuprofile`), JSON.stringify(profile));
        });
    },
    /** Resolves once the last profile is written; the server must stay up until then. */
    finished: () => pending,
  };
}

function connect(url) {
  const ws = new WebSocket(url);
  let next = 1;
  const waiting = new Map();
  ws.addEventListener("message", (e) => {
    const msg = JSON.parse(String(e.data));
    const w = waiting.get(msg.id);
    if (!w) return;
    waiting.delete(msg.id);
    if (msg.error) w.reject(new Error(`inspector: ${msg.error.message}`));
    else w.resolve(msg.result);
  });
  const session = {
    call(method, params = {}) {
      const id = next++;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`inspector: no answer to ${method} in 60 s`)), 60_000);
        const settle = (fn) => (value) => {
          clearTimeout(timer);
          fn(value);
        };
        waiting.set(id, { resolve: settle(resolve), reject: settle(reject) });
        ws.send(JSON.stringify({ id, method, params }));
      });
    },
    close: () => ws.close(),
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`inspector: could not connect to ${url} in 10 s`)), 10_000);
    ws.addEventListener("open", () => {
      clearTimeout(timer);
      resolve(session);
    });
    ws.addEventListener("error", () => {
      clearTimeout(timer);
      reject(new Error(`inspector: connection to ${url} failed`));
    });
  });
}
