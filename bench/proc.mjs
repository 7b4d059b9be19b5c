// Server CPU and memory from /proc, summed over a process and all its descendants
// (wrangler/miniflare start workerd as a child: its CPU belongs to the server).
import { readdirSync, readFileSync } from "node:fs";

const CLK_TCK = 100; // getconf CLK_TCK on Linux x86_64

function readStat(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    // comm may hold spaces and parens: fields start after the last ")".
    const close = text.lastIndexOf(")");
    const comm = text.slice(text.indexOf("(") + 1, close);
    const f = text.slice(close + 2).split(" ");
    // f[0] = state (field 3), so field n is f[n - 3].
    return { pid, comm, ppid: Number(f[1]), utime: Number(f[11]), stime: Number(f[12]), rssPages: Number(f[21]) };
  } catch {
    return null; // exited between readdir and read
  }
}

/** Every live process under `root` (root included), by walking /proc's ppid links. */
export function processTree(root) {
  const children = new Map();
  const stats = new Map();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const s = readStat(Number(name));
    if (!s) continue;
    stats.set(s.pid, s);
    if (!children.has(s.ppid)) children.set(s.ppid, []);
    children.get(s.ppid).push(s.pid);
  }
  const out = [];
  const queue = [root];
  for (let i = 0; i < queue.length && i < 10_000; i++) {
    const pid = queue[i];
    const s = stats.get(pid);
    if (s) out.push(s);
    for (const c of children.get(pid) ?? []) queue.push(c);
  }
  return out;
}

function pssKb(pid) {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/**
 * One snapshot of a server: CPU time in microseconds (utime+stime, all processes, also
 * per command name) and memory in KiB (RSS sum, PSS sum when smaps_rollup is readable).
 */
export function snapshotServer(root) {
  const procs = processTree(root);
  const byComm = {};
  let cpuUs = 0;
  let rssKb = 0;
  let pss = 0;
  let pssOk = true;
  for (const p of procs) {
    const us = ((p.utime + p.stime) * 1e6) / CLK_TCK;
    cpuUs += us;
    byComm[p.comm] = (byComm[p.comm] ?? 0) + us;
    rssKb += (p.rssPages * 4096) / 1024;
    const k = pssKb(p.pid);
    if (k === null) pssOk = false;
    else pss += k;
  }
  return { at: performance.now(), cpuUs, byComm, rssKb, pssKb: pssOk ? pss : null, pids: procs.map((p) => `${p.pid}:${p.comm}`) };
}

export function cpuDelta(a, b) {
  const byComm = {};
  for (const [k, v] of Object.entries(b.byComm)) byComm[k] = v - (a.byComm[k] ?? 0);
  return { cpuUs: b.cpuUs - a.cpuUs, wallMs: b.at - a.at, byComm };
}

export const machine = {
  cpuModel() {
    return /^model name\s*:\s*(.*)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? "unknown";
  },
  memTotalMb() {
    const m = /^MemTotal:\s+(\d+) kB/m.exec(readFileSync("/proc/meminfo", "utf8"));
    return m ? Math.round(Number(m[1]) / 1024) : null;
  },
  loadavg() {
    return readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).map(Number);
  },
};
