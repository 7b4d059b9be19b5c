// A job's state machine, pure: what each producer update, cancel request, planned stage
// and stall does to the job's view. JobHub stores and publishes what these return.
import {
  FINAL_JOB_STATUSES,
  JobEvent,
  type JobEventType,
  type JobStage,
  type JobStatus,
  type JobView,
  LIFETIME_ERROR_CODE,
  STALLED_ERROR_CODE,
} from "../protocol";
import type { JobSpec, JobUpdate } from "../schemas";
import { stableStringify } from "../stable-json";
import { newOutput } from "./job-output";
import { etaFrom } from "./job-plan";

export function isFinal(status: JobStatus): boolean {
  return FINAL_JOB_STATUSES.includes(status);
}

/** A new job, queued at `at` (ISO time). */
export function newJobView(spec: JobSpec & { id: string }, at: string): JobView {
  return {
    id: spec.id,
    owner: spec.owner,
    ...(spec.title !== undefined ? { title: spec.title } : {}),
    status: "queued",
    progress: 0,
    ...(spec.metadata !== undefined ? { metadata: spec.metadata } : {}),
    ...(spec.output !== undefined ? { output: newOutput(spec.id, spec.output.content_type) } : {}),
    cancel_requested: false,
    created_at: at,
    updated_at: at,
  };
}

/**
 * The view after a producer update. Progress never goes backwards (late or reordered
 * posts cannot rewind a bar); completed means 100% and no time left; failed always has
 * an error. `updated_at` is left to the caller, which sets it only on a real change.
 */
export function applyUpdate(view: JobView, update: JobUpdate): JobView {
  const next: JobView = { ...view };
  if (update.status !== undefined) next.status = update.status;
  if (update.progress !== undefined) next.progress = Math.max(view.progress, update.progress);
  if (update.stage !== undefined) next.stage = update.stage;
  if (update.message !== undefined) next.message = update.message;
  if (update.eta_ms !== undefined) next.eta_ms = update.eta_ms;
  if (update.result !== undefined) next.result = update.result;
  if (update.error !== undefined) next.error = update.error;
  if (next.status === "completed") {
    next.progress = 100;
    next.eta_ms = 0;
  }
  if (next.status === "failed" && next.error === undefined) {
    next.error = { code: "failed", message: next.message ?? "job failed" };
  }
  return next;
}

/** True when two views differ in anything a subscriber would see. */
export function viewChanged(before: JobView, after: JobView): boolean {
  return stableStringify(before) !== stableStringify(after);
}

/** The event a job in `status` is published as. */
export function eventTypeFor(status: JobStatus): JobEventType {
  switch (status) {
    case "completed":
      return JobEvent.Completed;
    case "failed":
      return JobEvent.Failed;
    case "cancelled":
      return JobEvent.Cancelled;
    default:
      return JobEvent.Update;
  }
}

/** The owner asked to cancel: the producer still decides when the job ends. */
export function requestCancel(view: JobView, at: string): JobView {
  return { ...view, cancel_requested: true, updated_at: at };
}

/** Stage `index` of the plan played: its name, at least its progress, and the plan's time left. */
export function playedStage(view: JobView, stages: readonly JobStage[], index: number, at: string): JobView | null {
  const stage = stages[index];
  if (!stage) return null;
  return {
    ...view,
    stage: stage.name,
    progress: Math.max(view.progress, stage.progress),
    eta_ms: etaFrom(stages, index + 1),
    updated_at: at,
  };
}

/**
 * Whether the watchdog holds a job: one running, or one queued whose owner asked to
 * cancel (a producer that died then would leave it waiting forever).
 */
export function watched(view: JobView): boolean {
  return view.status === "running" || (view.status === "queued" && view.cancel_requested);
}

/** The watchdog fired: no producer event for `seconds` while watched. */
export function stalled(view: JobView, seconds: number, at: string): JobView {
  const since = view.status === "running" ? "while running" : "after a cancel request";
  return {
    ...view,
    status: "failed",
    error: { code: STALLED_ERROR_CODE, message: `no producer event for ${seconds} s ${since}` },
    updated_at: at,
  };
}

/** The job's maximum lifetime ran out before it was final. */
export function lifetimeExceeded(view: JobView, lifetimeMs: number, at: string): JobView {
  const message = `not finished ${Math.round(lifetimeMs / 1000)} s after it was created`;
  return { ...view, status: "failed", error: { code: LIFETIME_ERROR_CODE, message }, updated_at: at };
}
