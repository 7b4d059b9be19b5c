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

/** A `ws` client that collects frames; every wait has a timeout that says what it wanted. */
function open(url: string, protocols: string[]) {
  const ws = new WebSocket(url, protocols);
  const frames: any[] = [];
  let notify = () => {};
  ws.on("message", (data) => {
    frames.push(JSON.parse(String(data)));
    notify();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on("close", (code, reason) => resolve({ code, reason: String(reason) })),
  );
  const waitFor = (count: number, timeoutMs = 10_000) =>
    new Promise<any[]>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`wanted ${count} frames, got ${JSON.stringify(frames)}`)), timeoutMs);
      notify = () => {
        if (frames.length >= count) {
          clearTimeout(timer);
          resolve(frames.slice(0, count));
        }
      };
      notify();
    });
  return { ws, frames, closed, waitFor };
}

describe("the hub on a real port", () => {
  it("delivers a producer's job events to a real WebSocket client and resumes after a drop", async () => {
    const id = `e2e-${Date.now()}`;
    expect((await hub.produce("/v1/jobs", { id, owner: "alice" })).status).toBe(201);
    const token = await hub.token("alice", { name: "Alice" });

    const first = open(hub.wsUrl(`/v1/ws/job/${id}?since=0`), ["dovetail.v1", `bearer.${token}`]);
    await new Promise((resolve, reject) => first.ws.once("open", resolve).once("error", reject));
    expect(first.ws.protocol).toBe("dovetail.v1");
    for (let p = 10; p <= 30; p += 10) await hub.produce(`/v1/jobs/${id}/events`, { status: "running", progress: p });
    const seen = await first.waitFor(5); // connected, created, 3 updates
    expect(seen.map((f) => f.type)).toEqual(["connected", "job:created", "job:update", "job:update", "job:update"]);
    const epoch = seen[0].data.epoch;
    first.ws.terminate(); // an abrupt drop, no close handshake

    for (let p = 40; p <= 60; p += 10) await hub.produce(`/v1/jobs/${id}/events`, { progress: p });
    const back = open(hub.wsUrl(`/v1/ws/job/${id}?since=4&epoch=${epoch}`), ["dovetail.v1", `bearer.${token}`]);
    const resumed = await back.waitFor(4);
    expect(resumed[0].data).toMatchObject({ resumed: true, seq: 7 });
    expect(resumed.slice(1).map((f) => [f.seq, f.data.progress])).toEqual([
      [5, 40],
      [6, 50],
      [7, 60],
    ]);
    await hub.produce(`/v1/jobs/${id}/events`, { status: "completed", result: { ok: true } });
    const [, , , , done] = await back.waitFor(5);
    expect(done).toMatchObject({ type: "job:completed", seq: 8, data: { progress: 100 } });
    back.ws.close(1000);
    expect((await back.closed).code).toBe(1000);
  });

  it("closes a socket with a bad token with 4001 and a reason the client can read", async () => {
    const socket = open(hub.wsUrl("/v1/ws/user"), ["dovetail.v1", "bearer.not-a-token"]);
    expect(await socket.closed).toEqual({ code: 4001, reason: "invalid token" });
  });
});
