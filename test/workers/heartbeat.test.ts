import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { installClock, loggedTypes, timerNames } from "./clock";
import { connect, createJob, mintToken, produceOk, uniqueId } from "./helpers";

const INTERVAL_MS = 30_000; // HEARTBEAT_INTERVAL_S in wrangler.toml

async function jobWithClock(owner: string) {
  const id = uniqueId("job");
  const stub = env.JOB_HUB.getByName(id);
  const clock = await installClock([stub]);
  await createJob(owner, { id });
  return { id, stub, clock };
}

describe("heartbeats", () => {
  it("beats every interval, reaps a silent client after two intervals, and keeps one that only pings", async () => {
    const owner = uniqueId("alice");
    const { id, stub, clock } = await jobWithClock(owner);
    const token = await mintToken(owner);
    const silent = await connect(`/v1/ws/job/${id}`, { token });
    const pinger = await connect(`/v1/ws/job/${id}`, { token });
    await silent.next("connected");
    expect((await pinger.next("connected")).data.heartbeat_ms).toBe(INTERVAL_MS);

    for (let tick = 1; tick <= 3; tick++) {
      clock.advance(INTERVAL_MS);
      pinger.send({ type: "ping" }); // auto-answered by the runtime; the hub stays asleep
      await pinger.next("pong");
      expect(await runDurableObjectAlarm(stub)).toBe(true);
      expect((await pinger.next("heartbeat")).data).toEqual({ interval_ms: INTERVAL_MS });
      if (tick === 1) await silent.next("heartbeat");
    }
    // Silent since it connected: closed at the tick where 60 s had passed.
    expect((await silent.closed()).code).toBe(1001);
    expect(silent.frames.filter((f) => f.type === "heartbeat")).toHaveLength(1);
    expect(pinger.close).toBeUndefined();
    pinger.hangUp();
  });

  it("reaps through dropSocket, so the hub's leave hook (presence) runs for the reaped socket", async () => {
    const owner = uniqueId("alice");
    const { id, stub, clock } = await jobWithClock(owner);
    const left: string[] = [];
    await runInDurableObject(stub, (instance) => {
      const hub = instance as unknown as { onLeave: (ws: WebSocket, who: { cid: string }) => void };
      const original = hub.onLeave.bind(hub);
      hub.onLeave = (ws, who) => {
        left.push(who.cid);
        original(ws, who);
      };
    });
    const socket = await connect(`/v1/ws/job/${id}`, { token: await mintToken(owner) });
    const cid = (await socket.next("connected")).data.connection_id;
    clock.advance(2 * INTERVAL_MS);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect((await socket.closed()).code).toBe(1001);
    expect(left).toEqual([cid]);
    expect(await timerNames(stub)).not.toContain("heartbeat");
  });

  it("counts a client frame as traffic, not only pings", async () => {
    const owner = uniqueId("alice");
    const { id, stub, clock } = await jobWithClock(owner);
    const socket = await connect(`/v1/ws/job/${id}`, { token: await mintToken(owner) });
    await socket.next("connected");
    clock.advance(50_000);
    expect((await socket.request({ type: "cancel" })).type).toBe("ack");
    clock.advance(INTERVAL_MS);
    expect(await runDurableObjectAlarm(stub)).toBe(true); // 80 s after connecting, 30 s after the cancel
    await socket.next("heartbeat");
    expect(socket.close).toBeUndefined();
    socket.hangUp();
  });

  it("schedules no heartbeat without sockets, and stops it when the last socket leaves", async () => {
    const owner = uniqueId("alice");
    const { id, stub } = await jobWithClock(owner);
    expect(await timerNames(stub)).not.toContain("heartbeat");

    const a = await connect(`/v1/ws/job/${id}`, { token: await mintToken(owner) });
    const b = await connect(`/v1/ws/job/${id}`, { token: await mintToken(owner) });
    await a.next("connected");
    await b.next("connected");
    expect((await timerNames(stub)).filter((n) => n === "heartbeat")).toHaveLength(1);
    a.hangUp();
    await a.closed();
    expect(await timerNames(stub)).toContain("heartbeat");
    b.hangUp();
    await b.closed();
    expect(await timerNames(stub)).not.toContain("heartbeat");
  });
});

describe("the alarm", () => {
  it("does a due timer's work once when it runs twice for the same due time", async () => {
    const owner = uniqueId("alice");
    const { id, stub, clock } = await jobWithClock(owner);
    const socket = await connect(`/v1/ws/job/${id}`, { token: await mintToken(owner) });
    await socket.next("connected");
    clock.advance(INTERVAL_MS);
    // A retried or duplicated alarm delivery: the handler runs again at the same time.
    await runInDurableObject(stub, async (instance: { alarm: () => Promise<void> }) => {
      await instance.alarm();
      await instance.alarm();
    });
    await produceOk(`/v1/jobs/${id}/events`, { message: "marker" });
    const frames: string[] = [];
    for (;;) {
      const frame = await socket.next();
      frames.push(frame.type);
      if (frame.type === "job:update") break;
    }
    expect(frames).toEqual(["heartbeat", "job:update"]);
    socket.hangUp();
  });

  it("trims logged events older than LOG_MAX_AGE_S (7 days by default), keeping the newest", async () => {
    const owner = uniqueId("alice");
    const { id, stub, clock } = await jobWithClock(owner);
    clock.advance(86_400_000);
    await produceOk(`/v1/jobs/${id}/events`, { status: "running", progress: 5 });
    clock.advance(6 * 86_400_000 + 3_600_000); // past the 7-day age of job:created, plus the trim slack
    // (The job's lifetime timer, 30 days in the tests, is not due yet.)
    const pending = async () => (await timerNames(stub)).filter((name) => name !== "lifetime");
    expect(await pending()).toEqual(["trim"]);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await loggedTypes(stub)).toEqual(["job:update"]);
    // What is left is the newest event, which keeps the seq: nothing more to trim, so no timer.
    expect(await pending()).toEqual([]);
  });
});
