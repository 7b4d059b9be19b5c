import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { unwrap } from "../../src/errors";
import { installClock } from "./clock";
import { connect, createJob, mintToken, produce, produceOk, uniqueId } from "./helpers";

function reportsReceived(batchId: string): Promise<number> {
  return runInDurableObject(env.BATCH_HUB.getByName(batchId), (instance) => unwrap(instance.reportsReceived()));
}

describe("batches", () => {
  it("counts 3 completed, 1 failed and 1 cancelled, then sends batch:completed, with progress coalesced", async () => {
    const owner = uniqueId("alice");
    const jobs = Array.from({ length: 5 }, () => uniqueId("job"));
    const stubs = jobs.map((id) => env.JOB_HUB.getByName(id));
    // Frozen clocks: progress reports wait for the coalescing timer, which only the test fires.
    await installClock(stubs);
    for (const id of jobs) await createJob(owner, { id });
    const batch = uniqueId("batch");
    const created = await produce("/v1/batches", { id: batch, owner, jobs });
    expect(created.status).toBe(201);
    expect(await created.json()).toMatchObject({ id: batch, total: 5, completed: 0, progress: 0 });

    const socket = await connect(`/v1/ws/batch/${batch}`, { token: await mintToken(owner) });
    const connected = await socket.next("connected");
    expect(connected.data.snapshot).toMatchObject({ id: batch, total: 5, completed: 0, failed: 0, cancelled: 0, progress: 0 });
    expect(Object.keys(connected.data.snapshot.jobs)).toEqual(expect.arrayContaining(jobs));

    for (let step = 1; step <= 10; step++) {
      for (const id of jobs) await produceOk(`/v1/jobs/${id}/events`, { status: "running", progress: step * 5 });
    }
    expect(await reportsReceived(batch)).toBe(0); // 50 progress events so far, none sent yet

    for (const stub of stubs) expect(await runDurableObjectAlarm(stub)).toBe(true);
    const updates = [];
    for (let i = 0; i < 5; i++) updates.push(await socket.next("batch:update"));
    expect(updates[4]?.data).toMatchObject({ total: 5, completed: 0, progress: 50 });
    expect(await reportsReceived(batch)).toBe(5); // one per job, carrying its latest progress

    const [a, b, c, d, e] = jobs as [string, string, string, string, string];
    for (const id of [a, b, c]) await produceOk(`/v1/jobs/${id}/events`, { status: "completed" });
    await produceOk(`/v1/jobs/${d}/events`, { status: "failed", error: { code: "oom", message: "out of memory" } });
    await produceOk(`/v1/jobs/${e}/events`, { status: "cancelled" });

    const done = await socket.next("batch:completed");
    expect(done.data).toMatchObject({ id: batch, total: 5, completed: 3, failed: 1, cancelled: 1, progress: 100 });
    expect(done.data.jobs[d]).toEqual({ status: "failed", progress: 50 });
    expect(await reportsReceived(batch)).toBe(10); // final states go at once, one each
    const last = socket
      .logged()
      .filter((f) => f.type === "batch:update")
      .at(-1);
    expect(last?.data).toMatchObject({ completed: 3, failed: 1, cancelled: 1 });
    socket.hangUp();
  });

  it("counts jobs that finished before the batch existed, and lets a job report to several batches", async () => {
    const owner = uniqueId("alice");
    const early = await createJob(owner);
    const late = await createJob(owner);
    await produceOk(`/v1/jobs/${early}/events`, { status: "completed" });
    await produceOk(`/v1/jobs/${late}/events`, { status: "running", progress: 50 });

    const first = uniqueId("batch");
    const second = uniqueId("batch");
    expect(await produceOk(`/v1/batches`, { id: first, owner, jobs: [early, late] })).toMatchObject({ completed: 1, progress: 75 });
    expect(await produceOk(`/v1/batches`, { id: second, owner, viewers: ["bob"], jobs: [late] })).toMatchObject({ completed: 0 });
    const one = await connect(`/v1/ws/batch/${first}`, { token: await mintToken(owner) });
    const two = await connect(`/v1/ws/batch/${second}`, { token: await mintToken("bob") });
    await one.next("connected");
    await two.next("connected");

    await produceOk(`/v1/jobs/${late}/events`, { status: "completed" });
    expect((await one.next("batch:completed")).data).toMatchObject({ total: 2, completed: 2 });
    expect((await two.next("batch:completed")).data).toMatchObject({ total: 1, completed: 1 });
    one.hangUp();
    two.hangUp();
  });

  it("ignores a member report older than what it has, and expires JOB_TTL_S after batch:completed", async () => {
    const owner = uniqueId("alice");
    const job = await createJob(owner);
    await produceOk(`/v1/jobs/${job}/events`, { status: "running", progress: 30 });
    const id = uniqueId("batch");
    const stub = env.BATCH_HUB.getByName(id);
    const clock = await installClock([stub]);
    await produceOk("/v1/batches", { id, owner, jobs: [job] });
    const stale = await stub.memberChanged({ job_id: job, seq: 1, status: "queued", progress: 0 });
    expect(stale).toEqual({ ok: true, value: { applied: false } });
    expect(await stub.memberChanged({ job_id: uniqueId("stranger"), seq: 9, status: "completed", progress: 100 })).toMatchObject({
      ok: false,
      error: { code: "not_found" },
    });

    // A token that outlives the batch's expiry (the longest JWT_MAX_TTL_S allows): the close is the expiry's 4004.
    const socket = await connect(`/v1/ws/batch/${id}`, { token: await mintToken(owner, { expiresIn: "24h" }) });
    expect((await socket.next("connected")).data.snapshot).toMatchObject({
      progress: 30,
      jobs: { [job]: { status: "running", progress: 30 } },
    });
    await produceOk(`/v1/jobs/${job}/events`, { status: "completed" });
    await socket.next("batch:completed");
    clock.advance(86_400_000);
    socket.send({ type: "ping" }); // a live client, so the heartbeat keeps it and expiry closes it
    await socket.next("pong");
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect((await socket.closed()).code).toBe(4004);
    expect((await produce(`/v1/batches/${id}`, undefined, { method: "GET" })).status).toBe(404);
  });

  it("answers a repeat with 200, a different body with 409, unknown jobs with 404, and strangers with 4004 (as if it did not exist)", async () => {
    const owner = uniqueId("alice");
    const job = await createJob(owner);
    const id = uniqueId("batch");
    expect((await produce("/v1/batches", { id, owner, jobs: [job] })).status).toBe(201);
    expect((await produce("/v1/batches", { id, owner, jobs: [job] })).status).toBe(200);
    expect((await produce("/v1/batches", { id, owner, jobs: [job, "other"] })).status).toBe(409);
    const missing = await produce("/v1/batches", { owner, jobs: [job, uniqueId("nope")] });
    expect(missing.status).toBe(404);
    expect((await produce("/v1/batches", { owner, jobs: [job, job] })).status).toBe(400);
    const stranger = await connect(`/v1/ws/batch/${id}`, { token: await mintToken(uniqueId("mallory")) });
    expect((await stranger.closed()).code).toBe(4004);
  });
});
