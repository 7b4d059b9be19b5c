// Optional: `--perf DIR` records `perf record -g` of every server process between the
// "start" and "end" marks of each scenario, or of each phase ("room-start" / "room-end"
// give DIR/hub-scale-room.data). Linux perf must be installed. Then e.g.
// `perf report -i DIR/hub-s1.data --no-children --sort dso,sym`.
import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

export function perfProfiler(dir) {
  mkdirSync(dir, { recursive: true });
  let current = null;
  return {
    // A scenario with phases marks "<phase>-start" / "<phase>-end": one file per phase.
    onMark(label, snapshot, name) {
      const phase = /^(?:(.+)-)?start$/.exec(label);
      if (phase && !current) {
        const file = phase[1] ? `${name}-${phase[1]}.data` : `${name}.data`;
        const pids = snapshot.pids.map((p) => p.split(":")[0]).join(",");
        current = spawn("perf", ["record", "-F", "499", "-g", "-o", join(dir, file), "-p", pids], { stdio: "ignore" });
      } else if (/(?:^|-)end$/.test(label) && current) {
        current.kill("SIGINT");
        current = null;
      }
    },
  };
}
