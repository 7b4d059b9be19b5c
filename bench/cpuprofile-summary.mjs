// Self and inclusive time per function in a V8 CPU profile of the hub (bench/cpuprofile.mjs).
// `node bench/cpuprofile-summary.mjs FILE.cpuprofile [--per N] [--top K]`: with --per, in µs
// per request (N requests profiled); without, in ms and as a share of the busy (not idle) time.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** Busy µs, and self and inclusive µs per function ("name file:line"). */
export function profileTables(profile) {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const name = ({ callFrame: f }) =>
    `${f.functionName || "(anonymous)"} ${f.url ? `${f.url.split("/").pop()}:${f.lineNumber + 1}` : ""}`.trim();
  const self = new Map();
  const inclusive = new Map();
  let busyUs = 0;
  profile.samples.forEach((id, i) => {
    const us = profile.timeDeltas[i] ?? 0;
    const leaf = nodes.get(id);
    if (leaf.callFrame.functionName === "(idle)") return;
    busyUs += us;
    self.set(name(leaf), (self.get(name(leaf)) ?? 0) + us);
    const seen = new Set();
    for (let cur = leaf.id; cur !== undefined; cur = parent.get(cur)) {
      const key = name(nodes.get(cur));
      if (!seen.has(key)) inclusive.set(key, (inclusive.get(key) ?? 0) + us);
      seen.add(key);
    }
  });
  return { busyUs, self, inclusive };
}

export function printProfile(profile, { per, top = 30 } = {}) {
  const { busyUs, self, inclusive } = profileTables(profile);
  console.log(`busy ${(busyUs / 1000).toFixed(0)} ms of ${((profile.endTime - profile.startTime) / 1000).toFixed(0)} ms profiled`);
  for (const [title, table] of [
    ["self", self],
    ["inclusive", inclusive],
  ]) {
    console.log(`--- ${title} ${per ? "(µs per request)" : "(share of busy time, ms)"}`);
    for (const [key, us] of [...table].sort((a, b) => b[1] - a[1]).slice(0, top)) {
      const figure = per
        ? String(Math.round(us / per)).padStart(6)
        : `${((us / busyUs) * 100).toFixed(1).padStart(5)}% ${(us / 1000).toFixed(1).padStart(8)}`;
      console.log(`${figure}  ${key}`);
    }
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const opt = (flag) => (args.includes(flag) ? Number(args[args.indexOf(flag) + 1]) : undefined);
  if (!args[0]) {
    console.error("usage: node bench/cpuprofile-summary.mjs FILE.cpuprofile [--per N] [--top K]");
    process.exit(2);
  }
  printProfile(JSON.parse(readFileSync(args[0], "utf8")), { per: opt("--per"), top: opt("--top") });
}
