// End to end on a real port: wrangler's dev server runs the worker and its Durable
// Objects, a `ws` client subscribes, and a plan of ~100 ms stages plays in real time
// from the hub's alarm (no test clock, no runDurableObjectAlarm).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { type RunningHub, startHub } from "./harness";

let hub: RunningHub;
beforeAll(async () => {
  hub = await startHub();
});
afterAll(async () => {
  await hub?.stop();
});

async function produce(path: string, body: unknown): Promise<any> {
  const res = await hub.produce(path, body);
  const text = await res.text();
  if (res.status >= 300) throw new Error(`POST ${path} answered ${res.status}: ${text}`);
  return JSON.parse(text);
}

/** Collects frames until `done` says so, or fails after `timeoutMs` naming what it saw. */
function collect(ws: WebSocket, done: (frames: any[]) => boolean, timeoutMs: number): Promise<{ frame: any; at: number }[]> {
  const seen: { frame: any; at: number }[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`timed out after ${timeoutMs} ms; frames: ${JSON.stringify(seen.map((s) => s.frame.type))}`)),
      timeoutMs,
    );
    ws.on("message", (data) => {
      seen.push({ frame: JSON.parse(String(data)), at: performance.now() });
      if (done(seen.map((s) => s.frame))) {
        clearTimeout(timer);
        resolve(seen);
      }
    });
    ws.on("close", (code) => {
      clearTimeout(timer);
      reject(new Error(`socket closed with ${code} before the plan finished`));
    });
  });
}

describe("a staged plan over a real socket", () => {
  it("plays four ~100 ms stages in order, on schedule, with falling eta_ms", async () => {
    const owner = `alice-${Date.now()}`;
    const id = `e2e-${Date.now()}`;
    const stages = ["fetch", "decode", "render", "upload"].map((name, i) => ({ name, progress: (i + 1) * 20, duration_ms: 100 }));
    await produce("/v1/jobs", { id, owner, stages });

    const ws = new WebSocket(hub.wsUrl(`/v1/ws/job/${id}`), ["dovetail.v1", `bearer.${await hub.token(owner)}`]);
    const connected = new Promise<void>((resolve, reject) => {
      ws.once("message", (data) => (JSON.parse(String(data)).type === "connected" ? resolve() : reject(new Error(String(data)))));
      ws.once("error", reject);
    });
    const frames = collect(ws, (fs) => fs.filter((f) => f.data?.data?.planned).length === 4, 10_000);
    await connected;
    expect(ws.protocol).toBe("dovetail.v1");

    const start = performance.now();
    await produce(`/v1/jobs/${id}/events`, { status: "running" });
    const planned = (await frames).filter((s) => s.frame.data?.data?.planned);

    expect(planned.map((s) => s.frame.type)).toEqual(Array(4).fill("job:update"));
    expect(planned.map((s) => s.frame.data.stage)).toEqual(["fetch", "decode", "render", "upload"]);
    expect(planned.map((s) => s.frame.data.progress)).toEqual([20, 40, 60, 80]);
    expect(planned.map((s) => s.frame.data.eta_ms)).toEqual([300, 200, 100, 0]);
    // On schedule: the last stage is due 400 ms after the start, and not early.
    const lastAt = (planned[3]?.at ?? 0) - start;
    expect(lastAt).toBeGreaterThanOrEqual(350);
    expect(lastAt).toBeLessThan(5_000);
    const seqs = planned.map((s) => s.frame.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    ws.close(1000, "done");
  });
});
