// `node bench/cpuprofile-summary.mjs DIR/hub-p0.cpuprofile [N]`: the N functions (default 30)
// where the hub's isolate spent its own time (self time) in a profile taken with
// `npm run bench -- --cpuprofile DIR`, as a share of the time it was not idle.
import { readFileSync } from "node:fs";

const [file, top = "30"] = process.argv.slice(2);
if (!file) {
  console.error("usage: node bench/cpuprofile-summary.mjs <file.cpuprofile> [N]");
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, "utf8"));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const selfUs = new Map();
profile.samples.forEach((id, i) => {
  selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
});
const totals = new Map();
let busy = 0;
for (const [id, us] of selfUs) {
  const { callFrame } = byId.get(id);
  if (callFrame.functionName === "(idle)") continue;
  busy += us;
  const where = callFrame.url ? `${callFrame.url.split("/").pop()}:${callFrame.lineNumber + 1}` : "";
  const name = `${callFrame.functionName || "(anonymous)"} ${where}`.trim();
  totals.set(name, (totals.get(name) ?? 0) + us);
}
console.log(`busy ${(busy / 1000).toFixed(0)} ms of ${((profile.endTime - profile.startTime) / 1000).toFixed(0)} ms profiled`);
for (const [name, us] of [...totals].sort((a, b) => b[1] - a[1]).slice(0, Number(top))) {
  console.log(`${((us / busy) * 100).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(1).padStart(8)} ms  ${name}`);
}
