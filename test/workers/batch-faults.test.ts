import { runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { installClock, timerNames } from "./clock";
import { failRpc, storedRows } from "./faults";
import { createJob, produce, produceOk, uniqueId } from "./helpers";

function getBatch(id: string): Promise<Response> {
  return produce(`/v1/batches/${id}`, undefined, { method: "GET" });
}

async function finish(jobs: string[], status = "completed"): Promise<void> {
  for (const job of jobs) await produceOk(`/v1/jobs/${job}/events`, { status });
}

describe("batch creation under faults", () => {
  it("a join that throws gives the producer an error; the same body again finishes the joins and the batch completes", async () => {
    const owner = uniqueId("alice");
    const [a, b] = [await createJob(owner), await createJob(owner)];
    const id = uniqueId("batch");
    await failRpc(env.BATCH_HUB.getByName(id), "JOB_HUB", "joinBatch", { target: b });
    const first = await produce("/v1/batches", { id, owner, jobs: [a, b] });
    expect(first.status).toBe(500);
    const retry = await produce("/v1/batches", { id, owner, jobs: [a, b] });
    expect(retry.status).toBe(200);
    await finish([a, b]);
    expect(await (await getBatch(id)).json()).toMatchObject({
      total: 2,
      completed: 2,
      jobs: { [a]: { status: "completed" }, [b]: { status: "completed" } },
    });
  });

  it("without a retry, the join timer finishes an interrupted creation, even after the object was reset mid-join", async () => {
    const owner = uniqueId("alice");
    const [a, b] = [await createJob(owner), await createJob(owner)];
    const id = uniqueId("batch");
    let stub = env.BATCH_HUB.getByName(id);
    const clock = await installClock([stub]);
    await failRpc(stub, "JOB_HUB", "joinBatch", { target: b, mode: "crash" });
    expect((await produce("/v1/batches", { id, owner, jobs: [a, b] })).status).toBe(500);
    stub = env.BATCH_HUB.getByName(id);
    expect(await timerNames(stub)).toContain("join");
    await installClock([stub], clock.now + 60_000);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    await finish([a, b]);
    expect(await (await getBatch(id)).json()).toMatchObject({ total: 2, completed: 2 });
    expect(await timerNames(stub)).not.toContain("join");
  });

  it("a same-body call during the joins waits for them: both get 404 when a job is missing, and nothing is kept", async () => {
    const owner = uniqueId("alice");
    const real = await createJob(owner);
    const missing = uniqueId("nope");
    const id = uniqueId("batch");
    const stub = env.BATCH_HUB.getByName(id);
    const held = await failRpc(stub, "JOB_HUB", "joinBatch", { target: real, mode: "delay" });
    const body = { id, owner, jobs: [real, missing] };
    const first = produce("/v1/batches", body);
    await held.parked();
    const second = produce("/v1/batches", body);
    // Let the second call reach the batch while the first one's join is held.
    await new Promise((resolve) => setTimeout(resolve, 50));
    held.release();
    expect((await first).status).toBe(404);
    expect((await second).status).toBe(404);
    expect((await getBatch(id)).status).toBe(404);
    expect(await storedRows(stub)).toBe(0);
  });

  it("a stale not_found reply about an earlier batch does not delete the membership of the batch created again", async () => {
    const owner = uniqueId("alice");
    const job = await createJob(owner);
    const id = uniqueId("batch");
    // First attempt: one job is missing, so the batch is not created; `job` has joined it.
    expect((await produce("/v1/batches", { id, owner, jobs: [job, uniqueId("nope")] })).status).toBe(404);
    // The job reports to that batch; the batch answers not_found, and the answer is late.
    const late = await failRpc(env.JOB_HUB.getByName(job), "BATCH_HUB", "memberChanged", { mode: "delay" });
    await produceOk(`/v1/jobs/${job}/events`, { status: "running", progress: 10 });
    const reporting = runDurableObjectAlarm(env.JOB_HUB.getByName(job)); // the coalesced progress report
    await late.parked();
    // Meanwhile the producer creates the batch again, with jobs that all exist.
    expect((await produce("/v1/batches", { id, owner, jobs: [job] })).status).toBe(201);
    late.release();
    await reporting;
    await finish([job]);
    expect(await (await getBatch(id)).json()).toMatchObject({ total: 1, completed: 1 });
  });

  it("a batch whose jobs never finish is deleted at its maximum lifetime, storage and timers", async () => {
    const owner = uniqueId("alice");
    const job = await createJob(owner);
    const id = uniqueId("batch");
    const stub = env.BATCH_HUB.getByName(id);
    const clock = await installClock([stub]);
    await produceOk("/v1/batches", { id, owner, jobs: [job] });
    clock.advance(31 * 86_400_000); // BATCH_MAX_LIFETIME_S in the tests
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect((await getBatch(id)).status).toBe(404);
    expect(await timerNames(stub)).toEqual([]);
    expect(await storedRows(stub)).toBe(0);
  });
});
