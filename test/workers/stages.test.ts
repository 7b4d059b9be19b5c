import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { installClock, loggedTypes, timerNames } from "./clock";
import { connect, createJob, mintToken, produce, produceOk, type TestSocket, uniqueId } from "./helpers";

const STAGES = [
  { name: "Analyzing prompt", progress: 10, duration_ms: 1_000 },
  { name: "Generating", progress: 40, duration_ms: 2_000 },
  { name: "Refining", progress: 70, duration_ms: 1_000 },
  { name: "Finalizing", progress: 95, duration_ms: 500 },
];

async function stagedJob(extra: Record<string, unknown> = {}) {
  const owner = uniqueId("alice");
  const id = uniqueId("job");
  const stub = env.JOB_HUB.getByName(id);
  const clock = await installClock([stub]);
  await createJob(owner, { id, stages: STAGES, ...extra });
  const socket = await connect(`/v1/ws/job/${id}`, { token: await mintToken(owner) });
  await socket.next("connected");
  return { owner, id, stub, clock, socket };
}

/** Advances the clock by `ms`, fires the alarm, and returns the planned update it sent. */
async function tick(ctx: Awaited<ReturnType<typeof stagedJob>>, ms: number) {
  ctx.clock.advance(ms);
  expect(await runDurableObjectAlarm(ctx.stub)).toBe(true);
  return ctx.socket.next("job:update");
}

/** Proves nothing was sent in between: the next job:update is the one this marker causes. */
async function expectNoPlannedFrameBefore(socket: TestSocket, id: string) {
  await produceOk(`/v1/jobs/${id}/events`, { message: "marker" });
  const next = await socket.next("job:update");
  expect(next.data.message).toBe("marker");
  expect(next.data.data).toBeUndefined();
}

describe("a staged progress plan", () => {
  it("waits while queued, then plays each stage in order with a falling eta_ms, and holds at the last", async () => {
    const ctx = await stagedJob();
    expect(await timerNames(ctx.stub)).not.toContain("stage");
    await produceOk(`/v1/jobs/${ctx.id}/events`, { status: "running" });
    const started = await ctx.socket.next("job:update");
    expect(started.data).toMatchObject({ status: "running", eta_ms: 4_500 });

    const played = [];
    for (const stage of STAGES) played.push(await tick(ctx, stage.duration_ms));
    expect(played.map((f) => f.data.stage)).toEqual(STAGES.map((s) => s.name));
    expect(played.map((f) => f.data.progress)).toEqual([10, 40, 70, 95]);
    expect(played.map((f) => f.data.eta_ms)).toEqual([3_500, 1_500, 500, 0]);
    expect(played.every((f) => f.data.data?.planned === true && f.data.status === "running")).toBe(true);

    // It never completes the job: no stage timer left, the job still running at 95.
    expect(await timerNames(ctx.stub)).not.toContain("stage");
    const job = await produceOk<any>(`/v1/jobs/${ctx.id}`, undefined, { method: "GET" });
    expect(job).toMatchObject({ status: "running", progress: 95, stage: "Finalizing" });
    ctx.socket.hangUp();
  });

  it("emits a stage once when the alarm runs twice for its due time", async () => {
    const ctx = await stagedJob();
    await produceOk(`/v1/jobs/${ctx.id}/events`, { status: "running" });
    ctx.clock.advance(1_000);
    await runInDurableObject(ctx.stub, async (instance) => {
      await instance.alarm();
      await instance.alarm();
    });
    expect(await loggedTypes(ctx.stub)).toEqual(["job:created", "job:update", "job:update"]);
    ctx.socket.hangUp();
  });

  it("re-plans the rest from a producer update mid-plan", async () => {
    const ctx = await stagedJob();
    await produceOk(`/v1/jobs/${ctx.id}/events`, { status: "running" });
    await ctx.socket.next("job:update");
    expect((await tick(ctx, 1_000)).data.stage).toBe("Analyzing prompt");

    // Halfway into "Generating" the producer reports it is already past it.
    ctx.clock.advance(500);
    await produceOk(`/v1/jobs/${ctx.id}/events`, { progress: 60, message: "rendering frames" });
    const replanned = await ctx.socket.next("job:update");
    expect(replanned.data).toMatchObject({ progress: 60, eta_ms: 1_500, message: "rendering frames" });
    expect(replanned.data.data).toBeUndefined();

    // "Generating" (40) is behind the producer now: the plan goes on with "Refining", timed from the update.
    const refining = await tick(ctx, 1_000);
    expect(refining.data).toMatchObject({ stage: "Refining", progress: 70, eta_ms: 500, data: { planned: true } });
    expect((await tick(ctx, 500)).data).toMatchObject({ stage: "Finalizing", eta_ms: 0 });
    ctx.socket.hangUp();
  });

  it("stops when the owner cancels, and when the producer finishes the job", async () => {
    const ctx = await stagedJob();
    await produceOk(`/v1/jobs/${ctx.id}/events`, { status: "running" });
    await ctx.socket.next("job:update");
    expect((await tick(ctx, 1_000)).data.data).toEqual({ planned: true });
    expect((await ctx.socket.request({ type: "cancel" })).type).toBe("ack");
    expect((await ctx.socket.next("job:update")).data.cancel_requested).toBe(true);
    expect(await timerNames(ctx.stub)).not.toContain("stage");
    ctx.clock.advance(10_000);
    await runDurableObjectAlarm(ctx.stub);
    await expectNoPlannedFrameBefore(ctx.socket, ctx.id);

    const other = await stagedJob();
    await produceOk(`/v1/jobs/${other.id}/events`, { status: "running" });
    await produceOk(`/v1/jobs/${other.id}/events`, { status: "completed" });
    expect(await timerNames(other.stub)).not.toContain("stage");
    ctx.socket.hangUp();
    other.socket.hangUp();
  });

  it("refuses stages whose progress goes down", async () => {
    const res = await produce("/v1/jobs", { owner: "alice", stages: [STAGES[1], STAGES[0]] });
    expect(res.status).toBe(400);
  });
});

describe("the stall watchdog", () => {
  it("fails a running job once after stall_timeout_s without producer events, and never while queued", async () => {
    const owner = uniqueId("alice");
    const id = uniqueId("job");
    const stub = env.JOB_HUB.getByName(id);
    const clock = await installClock([stub]);
    await createJob(owner, { id, stall_timeout_s: 60 });
    clock.advance(120_000);
    await runDurableObjectAlarm(stub);
    expect((await produceOk<any>(`/v1/jobs/${id}`, undefined, { method: "GET" })).status).toBe("queued");

    await produceOk(`/v1/jobs/${id}/events`, { status: "running", progress: 10 });
    clock.advance(50_000);
    await produceOk(`/v1/jobs/${id}/events`, { progress: 20 }); // pushes the deadline back
    clock.advance(50_000);
    await runDurableObjectAlarm(stub);
    expect((await produceOk<any>(`/v1/jobs/${id}`, undefined, { method: "GET" })).status).toBe("running");

    const socket = await connect(`/v1/ws/job/${id}`, { token: await mintToken(owner) });
    await socket.next("connected");
    clock.advance(10_000);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const failed = await socket.next("job:failed");
    expect(failed.data).toMatchObject({ status: "failed", error: { code: "stalled" } });

    await runInDurableObject(stub, async (instance) => {
      await instance.alarm();
    });
    expect((await loggedTypes(stub)).filter((t) => t === "job:failed")).toHaveLength(1);
    expect(await timerNames(stub)).not.toContain("stall");
    expect((await produce(`/v1/jobs/${id}/events`, { progress: 30 })).status).toBe(409);
    socket.hangUp();
  });
});

describe("expiry", () => {
  it("deletes a finished job's storage ttl_s after its final state and closes its sockets with 4004", async () => {
    const owner = uniqueId("alice");
    const id = uniqueId("job");
    const stub = env.JOB_HUB.getByName(id);
    const clock = await installClock([stub]);
    await createJob(owner, { id, ttl_s: 45 });
    const socket = await connect(`/v1/ws/job/${id}`, { token: await mintToken(owner) });
    await socket.next("connected");
    await produceOk(`/v1/jobs/${id}/events`, { status: "completed", result: { ok: true } });
    expect(await timerNames(stub)).toContain("expire");

    clock.advance(44_000);
    await runDurableObjectAlarm(stub); // the heartbeat at 30 s; not yet expired
    expect(socket.close).toBeUndefined();
    clock.advance(1_000);
    await runDurableObjectAlarm(stub);
    expect(await socket.closed()).toMatchObject({ code: 4004 });

    const rows = await runInDurableObject(stub, async (_instance, state) => {
      const tables = state.storage.sql
        .exec<{ name: string }>(
          "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'",
        )
        .toArray()
        .map((t) => t.name)
        .filter((t) => t !== "schema_version");
      const counts = Object.fromEntries(
        tables.map((t) => [t, state.storage.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM ${t}`).one().n]),
      );
      return { counts, alarm: await state.storage.getAlarm() };
    });
    // Not even empty tables: the object is as if it had never been written (they come back on a new first write).
    expect(rows.counts).toEqual({});
    expect(rows.alarm).toBeNull();

    expect((await produce(`/v1/jobs/${id}`, undefined, { method: "GET" })).status).toBe(404);
    const late = await connect(`/v1/ws/job/${id}`, { token: await mintToken(owner) });
    expect((await late.closed()).code).toBe(4004);
  });

  it("defaults to JOB_TTL_S (24 h)", async () => {
    const owner = uniqueId("alice");
    const id = uniqueId("job");
    const stub = env.JOB_HUB.getByName(id);
    const clock = await installClock([stub]);
    await createJob(owner, { id });
    await produceOk(`/v1/jobs/${id}/events`, { status: "cancelled" });
    clock.advance(86_400_000 - 1);
    await runDurableObjectAlarm(stub);
    expect((await produce(`/v1/jobs/${id}`, undefined, { method: "GET" })).status).toBe(200);
    clock.advance(1);
    await runDurableObjectAlarm(stub);
    expect((await produce(`/v1/jobs/${id}`, undefined, { method: "GET" })).status).toBe(404);
  });
});
