// POST /v1/jobs/events: a backend moves many jobs in one request, with the single route's
// rules per item and one result per item.
import { listDurableObjectIds } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createJob, jobWithSockets, produce, produceOk, uniqueId } from "./helpers";

type Results = { results: any[]; applied: number; failed: number };

describe("bulk job events", () => {
  it("moves several jobs in one request; each socket sees its own job's events in order", async () => {
    const a = await jobWithSockets(1);
    const b = await jobWithSockets(1);
    const body = await produceOk<Results>("/v1/jobs/events", [
      { job: a.job, status: "running", progress: 10 },
      { job: b.job, status: "running", progress: 50, stage: "encoding" },
      { job: a.job, progress: 20, data: { frames: 200 } },
      { job: a.job, status: "completed", result: { url: "https://cdn.example/a.mp4" } },
    ]);
    expect(body).toMatchObject({ applied: 4, failed: 0 });
    expect(body.results.map((r) => [r.index, r.ok, r.job, r.seq, r.status])).toEqual([
      [0, true, a.job, 2, "running"],
      [1, true, b.job, 2, "running"],
      [2, true, a.job, 3, "running"],
      [3, true, a.job, 4, "completed"],
    ]);
    const [socketA] = a.sockets;
    const [socketB] = b.sockets;
    const seen = await socketA!.take(3);
    expect(seen.map((f) => [f.type, f.seq, f.data.progress])).toEqual([
      ["job:update", 2, 10],
      ["job:update", 3, 20],
      ["job:completed", 4, 100],
    ]);
    expect(seen[1]!.data.data).toEqual({ frames: 200 });
    expect((await socketB!.next("job:update")).data).toMatchObject({ progress: 50, stage: "encoding" });
    for (const s of [socketA, socketB]) s!.hangUp();
  });

  it("keeps the single route's rules per item: dedupe, progress never backwards, job_finished", async () => {
    const owner = uniqueId("alice");
    const job = await createJob(owner);
    const other = await createJob(owner);
    const body = await produceOk<Results>("/v1/jobs/events", [
      { job, status: "running", progress: 60, event_id: "e-60" },
      { job, progress: 30 },
      { job, status: "running", progress: 60, event_id: "e-60" },
      { job, status: "failed", error: { code: "oom", message: "out of memory" } },
      { job, progress: 70 },
      { job: other, progress: 5 },
    ]);
    const [first, lower, repeat, failed, late, untouched] = body.results;
    expect(first).toMatchObject({ ok: true, seq: 2 });
    expect(lower).toMatchObject({ ok: true, seq: 2 }); // nothing changed: no event
    expect(repeat).toMatchObject({ ok: true, seq: 2, duplicate: true });
    expect(failed).toMatchObject({ ok: true, seq: 3, status: "failed" });
    expect(late).toMatchObject({ index: 4, ok: false, job, error: { code: "job_finished" } });
    expect(untouched).toMatchObject({ ok: true, seq: 2 });
    expect(body).toMatchObject({ applied: 5, failed: 1 });
    const state = await produceOk<any>(`/v1/jobs/${job}`, undefined, { method: "GET" });
    expect(state).toMatchObject({ status: "failed", progress: 60, seq: 3 });
    // The same event_id through the single route is the same event.
    expect(await produceOk(`/v1/jobs/${other}/events`, { progress: 9, event_id: "single-1" })).toMatchObject({ seq: 3 });
    const again = await produceOk<Results>("/v1/jobs/events", [{ job: other, progress: 9, event_id: "single-1" }]);
    expect(again.results[0]).toMatchObject({ ok: true, seq: 3, duplicate: true });
  });

  it("fails bad items alone with a stable code, and creates no object for them", async () => {
    const before = (await listDurableObjectIds(env.JOB_HUB)).length;
    const job = await createJob(uniqueId("alice"));
    const body = await produceOk<Results>("/v1/jobs/events", [
      { job: "bad$id", progress: 1 },
      { progress: 1 },
      { job, progress: 101 },
      { job, colour: "red" },
      { job, event_id: "only-an-id" },
      "not an object",
      { job, progress: 40 },
      { job: uniqueId("nobody"), progress: 1 },
    ]);
    const codes = body.results.map((r) => (r.ok ? "ok" : r.error.code));
    expect(codes).toEqual([
      "validation_failed",
      "validation_failed",
      "validation_failed",
      "validation_failed",
      "validation_failed",
      "validation_failed",
      "ok",
      "not_found",
    ]);
    expect(body.results[0].error.issues[0].path).toBe("job");
    expect(body.results[2].error.message).toMatch(/^progress: /);
    expect(body).toMatchObject({ applied: 1, failed: 7 });
    // The created job, and the unknown one the last item named, at most.
    expect((await listDurableObjectIds(env.JOB_HUB)).length).toBeLessThanOrEqual(before + 2);
  });

  it("takes 1 to 100 items from a producer only", async () => {
    const job = await createJob(uniqueId("alice"));
    const item = { job, progress: 1 };
    expect((await produce("/v1/jobs/events", item)).status).toBe(400);
    expect((await produce("/v1/jobs/events", [])).status).toBe(400);
    expect((await produce("/v1/jobs/events", Array(101).fill(item))).status).toBe(400);
    expect((await produce("/v1/jobs/events", [item], { key: "not-a-key" })).status).toBe(401);
    const hundred = await produceOk<Results>(
      "/v1/jobs/events",
      Array.from({ length: 100 }, (_, i) => ({ job, progress: i + 1 })),
    );
    expect(hundred).toMatchObject({ applied: 100, failed: 0 });
    expect(hundred.results.map((r) => r.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 2));
  });
});
