// Optional: `--cpuprofile DIR` takes a V8 CPU profile of the hub's isolate (its Worker and
// its Durable Objects share one) between each scenario's "start" and "end" marks, through
// workerd's inspector. perf sees only "JIT code" for JavaScript; this names the functions.
// Summarise with `node bench/cpuprofile-summary.mjs DIR/hub-p0.cpuprofile`.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const INSPECTOR_PORT = 9330;

export function cpuProfiler(dir) {
  mkdirSync(dir, { recursive: true });
  let session = null;
  let pending = Promise.resolve();
  return {
    /** Marks are synchronous; the inspector is not: the work queues on `pending`. */
    onMark(label, name) {
      if (label === "start" && !session) pending = pending.then(() => start()).then((s) => (session = s));
      else if (label === "end")
        pending = pending.then(async () => {
          if (!session) return;
          const { profile } = await session.call("Profiler.stop");
          session.close();
          session = null;
          writeFileSync(join(dir, `${name}.cpuprofile`), JSON.stringify(profile));
        });
    },
    /** Resolves once the last profile is written; the server must stay up until then. */
    finished: () => pending,
  };
}

async function start() {
  const targets = await (await fetch(`http://127.0.0.1:${INSPECTOR_PORT}/json/list`)).json();
  // One target per worker: the hub, and the bench's rate limiter beside it.
  const target = targets.find((t) => /hub/.test(`${t.title} ${t.id} ${t.url}`)) ?? targets[0];
  if (!target) throw new Error("the workerd inspector lists no worker");
  const session = await connect(target.webSocketDebuggerUrl);
  await session.call("Profiler.enable");
  await session.call("Profiler.setSamplingInterval", { interval: 100 });
  await session.call("Profiler.start");
  return session;
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
    if (msg.error) w.reject(new Error(`${msg.error.message}`));
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
