import { runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { installClock, type TestClock, timerNames } from "./clock";
import { failRpc, storedRows } from "./faults";
import { connect, createJob, mintToken, produce, produceOk, uniqueId } from "./helpers";

/** Runs the job's alarm after moving its clock: the way time passes for a hub in these tests. */
async function advanceAndRun(clock: TestClock, ms: number, stub: DurableObjectStub): Promise<void> {
  clock.advance(ms);
  await runDurableObjectAlarm(stub);
}

async function ownerCancels(job: string, owner: string): Promise<void> {
  const socket = await connect(`/v1/ws/job/${job}`, { token: await mintToken(owner) });
  await socket.next("connected");
  expect((await socket.request({ type: "cancel" })).type).toBe("ack");
  socket.hangUp();
}

describe("the stall watchdog and a cancel", () => {
  it("keeps re-arming on producer events after a cancel request, so the producer's own cancelled is accepted", async () => {
    const owner = uniqueId("alice");
    const job = uniqueId("job");
    const stub = env.JOB_HUB.getByName(job);
    const clock = await installClock([stub]);
    await createJob(owner, { id: job, stall_timeout_s: 10 });
    await produceOk(`/v1/jobs/${job}/events`, { status: "running" });
    await ownerCancels(job, owner);
    // The producer is still winding down, and says so every 6 s for half a minute.
    for (let i = 0; i < 5; i++) {
      clock.advance(6_000);
      await runDurableObjectAlarm(stub);
      const res = await produceOk<{ state: { status: string } }>(`/v1/jobs/${job}/events`, { message: `cleaning up ${i}` });
      expect(res.state.status).toBe("running");
    }
    expect((await produce(`/v1/jobs/${job}/events`, { status: "cancelled" })).status).toBe(200);
  });

  it("arms for a queued job that gets a cancel, so a producer that died leaves it failed as stalled", async () => {
    const owner = uniqueId("alice");
    const job = uniqueId("job");
    const stub = env.JOB_HUB.getByName(job);
    const clock = await installClock([stub]);
    await createJob(owner, { id: job, stall_timeout_s: 10 });
    await ownerCancels(job, owner);
    await advanceAndRun(clock, 11_000, stub);
    expect(await produceOk(`/v1/jobs/${job}`, undefined, { method: "GET" })).toMatchObject({
      status: "failed",
      error: { code: "stalled" },
    });
  });
});

describe("a job's expiry and its batches", () => {
  it("does not expire before its final state reached its batch: it flushes first and pushes expiry back while the batch is unreachable", async () => {
    const owner = uniqueId("alice");
    const job = uniqueId("job");
    const stub = env.JOB_HUB.getByName(job);
    const clock = await installClock([stub]);
    await createJob(owner, { id: job, ttl_s: 1 });
    const batch = uniqueId("batch");
    await produceOk("/v1/batches", { id: batch, owner, jobs: [job] });
    // The batch is unreachable for four tries: longer than the job's whole ttl.
    const outage = await failRpc(stub, "BATCH_HUB", "memberChanged", { times: 4 });
    await produceOk(`/v1/jobs/${job}/events`, { status: "completed" });
    for (let i = 0; i < 8 && (await storedRows(stub)) > 0; i++) await advanceAndRun(clock, 60_000, stub);
    expect(outage.failed).toBe(4);
    expect(await produceOk(`/v1/batches/${batch}`, undefined, { method: "GET" })).toMatchObject({ total: 1, completed: 1 });
    // And then it did expire: nothing of it is left.
    expect((await produce(`/v1/jobs/${job}`, undefined, { method: "GET" })).status).toBe(404);
    expect(await timerNames(stub)).toEqual([]);
  });

  it("expires at last when its batch stays unreachable for a day past its planned expiry", async () => {
    const owner = uniqueId("alice");
    const job = uniqueId("job");
    const stub = env.JOB_HUB.getByName(job);
    const clock = await installClock([stub]);
    await createJob(owner, { id: job, ttl_s: 60 });
    await produceOk("/v1/batches", { id: uniqueId("batch"), owner, jobs: [job] });
    await failRpc(stub, "BATCH_HUB", "memberChanged", { times: Number.POSITIVE_INFINITY });
    await produceOk(`/v1/jobs/${job}/events`, { status: "failed" });
    const planned = clock.now + 60_000;
    await advanceAndRun(clock, 60_000, stub);
    expect((await produce(`/v1/jobs/${job}`, undefined, { method: "GET" })).status).toBe(200);
    for (let i = 0; i < 60 && (await storedRows(stub)) > 0; i++) await advanceAndRun(clock, 1_800_000, stub);
    expect(clock.now).toBeGreaterThanOrEqual(planned + 86_400_000);
    expect((await produce(`/v1/jobs/${job}`, undefined, { method: "GET" })).status).toBe(404);
  });
});

describe("a job's maximum lifetime", () => {
  it("fails a job that never finishes with lifetime_exceeded, counts it in its batch, then deletes it", async () => {
    const owner = uniqueId("alice");
    const job = uniqueId("job");
    const stub = env.JOB_HUB.getByName(job);
    const clock = await installClock([stub]);
    await createJob(owner, { id: job, ttl_s: 60 });
    const batch = uniqueId("batch");
    await produceOk("/v1/batches", { id: batch, owner, jobs: [job] });
    await produceOk(`/v1/jobs/${job}/events`, { status: "running", progress: 40 });
    await advanceAndRun(clock, 30 * 86_400_000, stub); // JOB_MAX_LIFETIME_S in the tests
    expect(await produceOk(`/v1/jobs/${job}`, undefined, { method: "GET" })).toMatchObject({
      status: "failed",
      error: { code: "lifetime_exceeded" },
    });
    expect(await produceOk(`/v1/batches/${batch}`, undefined, { method: "GET" })).toMatchObject({ total: 1, failed: 1 });
    await advanceAndRun(clock, 60_000, stub);
    expect(await storedRows(stub)).toBe(0);
  });
});
