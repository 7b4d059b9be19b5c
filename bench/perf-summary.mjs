// `node bench/perf-summary.mjs DIR/hub-s1.data`: groups a `perf record` profile of the
// hub (taken with `npm run bench -- --perf DIR`) into where workerd spends its CPU.
import { spawnSync } from "node:child_process";

const file = process.argv[2];
if (!file) {
  console.error("usage: node bench/perf-summary.mjs <perf.data>");
  process.exit(2);
}
const res = spawnSync("perf", ["report", "-i", file, "--no-children", "--sort", "dso,sym", "-g", "none"], {
  encoding: "utf8",
  maxBuffer: 64 * 1024 * 1024,
});
if (res.status !== 0) {
  console.error(res.stderr);
  process.exit(1);
}
const RULES = [
  ["kernel: TCP send/receive, syscalls, scheduling", /\[kernel|\[k\]/],
  ["JIT: the hub's own JS (Hono, valibot, broadcast loop)", /\[JIT\]/],
  ["memory allocator (tcmalloc)", /tcmalloc|TCMalloc/i],
  ["V8 runtime: promises, handles, GC", /v8::|Builtins_|cppgc|V8/],
  ["workerd JS API: WebSocket.send, LegacyWebSocketAdapter pump, jsg glue", /workerd::api::|workerd::jsg::/],
  ["kj WebSocket pipe and framing", /WebSocket/],
  ["Rust HTTP stack (kj_hyper, tokio)", /hyper|tokio/],
  ["kj promises, event loop, cross-thread fulfilment", /kj::/],
  ["SQLite", /sqlite/i],
];
const totals = new Map();
for (const line of res.stdout.split("\n")) {
  const m = /^\s*([\d.]+)%\s+(.*)$/.exec(line);
  if (!m) continue;
  const name = RULES.find(([, re]) => re.test(m[2]))?.[0] ?? "other";
  totals.set(name, (totals.get(name) ?? 0) + Number(m[1]));
}
for (const [name, pct] of [...totals].sort((a, b) => b[1] - a[1])) console.log(`${pct.toFixed(1).padStart(5)}%  ${name}`);
