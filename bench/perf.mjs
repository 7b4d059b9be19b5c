// Optional: `--perf DIR` records `perf record -g` of every server process between the
// "start" and "end" marks of each scenario (Linux perf must be installed). Then e.g.
// `perf report -i DIR/hub-s1.data --no-children --sort dso,sym`.
import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

export function perfProfiler(dir) {
  mkdirSync(dir, { recursive: true });
  let current = null;
  return {
    onMark(label, snapshot, name) {
      if (label === "start" && !current) {
        const pids = snapshot.pids.map((p) => p.split(":")[0]).join(",");
        current = spawn("perf", ["record", "-F", "499", "-g", "-o", join(dir, `${name}.data`), "-p", pids], { stdio: "ignore" });
      } else if (label === "end" && current) {
        current.kill("SIGINT");
        current = null;
      }
    },
  };
}
