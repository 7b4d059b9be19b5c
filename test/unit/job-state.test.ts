// The job state machine, without a Durable Object: each transition on plain views.
import { describe, expect, it } from "vitest";
import { applyUpdate, eventTypeFor, isFinal, newJobView, playedStage, requestCancel, stalled, viewChanged } from "../../src/hubs/job-state";
import type { JobView } from "../../src/protocol";

const T0 = "2026-01-01T00:00:00.000Z";
const T1 = "2026-01-01T00:01:00.000Z";

function queued(extra: Partial<JobView> = {}): JobView {
  return { ...newJobView({ id: "j1", owner: "alice", title: "Render" }, T0), ...extra };
}

describe("newJobView", () => {
  it("starts queued at 0%, keeps title and metadata only when given", () => {
    expect(newJobView({ id: "j1", owner: "alice" }, T0)).toEqual({
      id: "j1",
      owner: "alice",
      status: "queued",
      progress: 0,
      cancel_requested: false,
      created_at: T0,
      updated_at: T0,
    });
    expect(newJobView({ id: "j1", owner: "a", title: "t", metadata: { k: 1 } }, T0)).toMatchObject({ title: "t", metadata: { k: 1 } });
  });
});

describe("applyUpdate", () => {
  it("copies the fields a producer sends", () => {
    const next = applyUpdate(queued(), { status: "running", progress: 40, stage: "encoding", message: "m", eta_ms: 900 });
    expect(next).toMatchObject({ status: "running", progress: 40, stage: "encoding", message: "m", eta_ms: 900 });
  });

  it("never moves progress backwards", () => {
    expect(applyUpdate(queued({ status: "running", progress: 60 }), { progress: 30 }).progress).toBe(60);
  });

  it("makes a completed job 100% with no time left", () => {
    expect(applyUpdate(queued({ status: "running", progress: 20, eta_ms: 5_000 }), { status: "completed" })).toMatchObject({
      progress: 100,
      eta_ms: 0,
    });
  });

  it("gives a failed job an error, from the message when there is one", () => {
    expect(applyUpdate(queued(), { status: "failed", message: "disk full" }).error).toEqual({ code: "failed", message: "disk full" });
    expect(applyUpdate(queued(), { status: "failed" }).error).toEqual({ code: "failed", message: "job failed" });
    const own = { code: "oom", message: "out of memory" };
    expect(applyUpdate(queued(), { status: "failed", error: own }).error).toEqual(own);
  });

  it("does not touch the view it was given, nor updated_at", () => {
    const before = queued();
    const next = applyUpdate(before, { progress: 10 });
    expect(before.progress).toBe(0);
    expect(next.updated_at).toBe(T0);
  });
});

describe("transitions", () => {
  it("tells a change from a repeat, whatever the key order", () => {
    const view = queued({ progress: 10 });
    expect(viewChanged(view, applyUpdate(view, { progress: 10 }))).toBe(false);
    expect(viewChanged(view, applyUpdate(view, { progress: 11 }))).toBe(true);
    const { id, ...rest } = view;
    expect(viewChanged(view, { ...rest, id } as JobView)).toBe(false);
  });

  it("names the event by the status reached, and knows the final ones", () => {
    expect(["queued", "running", "completed", "failed", "cancelled"].map((s) => eventTypeFor(s as JobView["status"]))).toEqual([
      "job:update",
      "job:update",
      "job:completed",
      "job:failed",
      "job:cancelled",
    ]);
    expect(isFinal("completed") && isFinal("failed") && isFinal("cancelled")).toBe(true);
    expect(isFinal("queued") || isFinal("running")).toBe(false);
  });

  it("marks a cancel request without ending the job", () => {
    expect(requestCancel(queued({ status: "running" }), T1)).toMatchObject({ status: "running", cancel_requested: true, updated_at: T1 });
  });

  it("plays a stage: its name, at least its progress, and the rest of the plan as eta", () => {
    const stages = [
      { name: "a", progress: 10, duration_ms: 100 },
      { name: "b", progress: 60, duration_ms: 200 },
      { name: "c", progress: 90, duration_ms: 300 },
    ];
    expect(playedStage(queued({ status: "running", progress: 5 }), stages, 1, T1)).toMatchObject({
      stage: "b",
      progress: 60,
      eta_ms: 300,
      updated_at: T1,
    });
    expect(playedStage(queued({ status: "running", progress: 70 }), stages, 1, T1)?.progress).toBe(70);
    expect(playedStage(queued(), stages, 3, T1)).toBeNull();
  });

  it("fails a stalled job with the stalled code", () => {
    expect(stalled(queued({ status: "running" }), 120, T1)).toMatchObject({
      status: "failed",
      error: { code: "stalled", message: "no producer event for 120 s while running" },
      updated_at: T1,
    });
  });
});
