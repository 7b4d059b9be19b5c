// Starting and always stopping the bench's child processes (servers, load generators).
import { spawn, spawnSync } from "node:child_process";
import { processTree } from "./proc.mjs";

const live = new Set();
const hasTaskset = spawnSync("taskset", ["--version"]).status === 0;
export const pinning = hasTaskset;

/** argv prefixed with `taskset -c <core>` when available. */
function pinned(core, argv) {
  return hasTaskset && core !== undefined ? ["taskset", "-c", core, ...argv] : argv;
}

/** Kills a process and everything under it (SIGKILL), by pid: nothing else is touched. */
export function killTree(pid) {
  for (const p of processTree(pid).reverse()) {
    try {
      process.kill(p.pid, "SIGKILL");
    } catch {}
  }
}

export function stopAll() {
  for (const child of live) killTree(child.pid);
  live.clear();
}
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, () => {
    stopAll();
    process.exit(130);
  });
}
process.on("exit", stopAll);

/** Starts a server; resolves with {child, url, info} once it prints BENCH_READY. */
export function startServer(core, argv, env, timeoutMs = 60_000) {
  const [cmd, ...args] = pinned(core, argv);
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ["pipe", "pipe", "pipe"] });
  live.add(child);
  let stderr = "";
  child.stderr.on("data", (d) => {
    stderr = (stderr + d).slice(-4000);
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      killTree(child.pid);
      reject(new Error(`server did not start in ${timeoutMs} ms: ${argv.join(" ")}\n${stderr}`));
    }, timeoutMs);
    let buf = "";
    child.stdout.on("data", (d) => {
      buf += d;
      const m = /BENCH_READY (.*)\n/.exec(buf);
      if (m) {
        clearTimeout(timer);
        buf = "";
        resolve({ child, ...JSON.parse(m[1]) });
      } else if (buf.length > 100_000) buf = buf.slice(-1000);
    });
    child.on("exit", (code) => {
      live.delete(child);
      clearTimeout(timer);
      reject(new Error(`server exited (${code}) before ready: ${argv.join(" ")}\n${stderr}`));
    });
  });
}

/** Stops a server: SIGTERM (it disposes workerd), then SIGKILL on its tree after a grace. */
export async function stopServer(child, graceMs = 8000) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const tree = processTree(child.pid);
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  const t = setTimeout(() => killTree(child.pid), graceMs);
  await exited;
  clearTimeout(t);
  // Orphans (a workerd whose parent died first) are killed by the pids seen before.
  for (const p of tree) {
    try {
      process.kill(p.pid, 0);
      process.kill(p.pid, "SIGKILL");
    } catch {}
  }
  live.delete(child);
}

/**
 * Runs the load generator for one scenario. `onMark(label)` returns a server snapshot.
 * Resolves with its result; rejects on error or after timeoutMs.
 */
export function runLoad(core, loadPath, message, onMark, timeoutMs) {
  const [cmd, ...args] = pinned(core, [process.execPath, loadPath]);
  const child = spawn(cmd, args, { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  live.add(child);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      killTree(child.pid);
      reject(new Error(`load generator timed out after ${timeoutMs} ms (${message.scenario})`));
    }, timeoutMs);
    let done = false;
    child.on("message", (msg) => {
      if (msg.type === "mark") child.send({ type: "mark", id: msg.id, snapshot: onMark(msg.label) });
      else if (msg.type === "result" || msg.type === "error") {
        done = true;
        clearTimeout(timer);
        if (msg.type === "result") resolve(msg.result);
        else reject(new Error(msg.error));
      }
    });
    child.on("exit", (code) => {
      live.delete(child);
      clearTimeout(timer);
      if (!done) reject(new Error(`load generator exited (${code}) without a result`));
    });
    child.send(message);
  });
}
