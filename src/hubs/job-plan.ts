import type { GiveUp } from "../hub/timers";
import type { JobStage, JobView } from "../protocol";

/** Timers a job sets on its hub's alarm. */
export const JobTimer = {
  /** The next stage of the plan; payload `{ index }`. */
  Stage: "stage",
  /** The stall watchdog, pushed back by every producer event while running (cancel requested or not). */
  Stall: "stall",
  /** Deletes the job ttl_s after its final state, once its batches heard it; payload `{ planned }`. */
  Expire: "expire",
  /** Fails a job still not final JOB_MAX_LIFETIME_S after its creation. */
  Lifetime: "lifetime",
  /** Closes the job's output stream once the job is final (a timer, so a failed call is retried). */
  OutputClose: "output-close",
  /** Sends the job's state to its batches (coalesced). */
  BatchReport: "batch-report",
} as const;

/** How long past its planned expiry a job may wait for its batches to acknowledge it. */
export const EXPIRY_HOLD_MAX_MS = 24 * 3_600_000;

/** The Expire timer's payload: when the job was due to go, before any hold. */
export interface ExpiryPlan {
  planned: number;
}

/** The one timer of a job that may stop retrying. */
export const STAGE_GIVE_UP: GiveUp = { afterAttempts: 5, why: "planned stages are cosmetic; the producer's next event plans the rest" };

export interface StageCursor {
  index: number;
}

/**
 * The first stage still ahead of a job: after the stage the producer last named (when it
 * is one of the plan's) and above the progress already shown. Equal to stages.length when
 * the plan has nothing left, and then the plan holds: it never finishes a job.
 */
export function nextStageIndex(stages: readonly JobStage[], view: Pick<JobView, "stage" | "progress">): number {
  let index = 0;
  const named = view.stage === undefined ? -1 : stages.findIndex((s) => s.name === view.stage);
  if (named >= 0) index = named + 1;
  while (index < stages.length && (stages[index] as JobStage).progress <= view.progress) index += 1;
  return index;
}

/** Time left in the plan from the start of stage `index` (0 when nothing is left). */
export function etaFrom(stages: readonly JobStage[], index: number): number {
  return stages.slice(index).reduce((sum, s) => sum + s.duration_ms, 0);
}
