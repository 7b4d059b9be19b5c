// Jobs and batches: what subscribers see, and the events that change it.
import type { ErrorInfo, Json } from "./wire.js";

export const JOB_STATUSES = ["queued", "running", "completed", "failed", "cancelled"] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export const FINAL_JOB_STATUSES: readonly JobStatus[] = ["completed", "failed", "cancelled"];

export interface JobError {
  code: string;
  message: string;
}

export interface JobStage {
  name: string;
  progress: number;
  duration_ms: number;
}

/**
 * A job's output stream (`jobs/<id>/output`), for jobs created with `output`. The snapshot
 * and GET /v1/jobs/:id read `next_offset` and `closed` from the stream when asked; job
 * events carry them as last known (appends send no job event), so read the output itself
 * (`/v1/ws/stream/<path>` or `/v1/stream/<path>`) for its bytes.
 */
export interface JobOutput {
  path: string;
  content_type: string;
  next_offset: string;
  closed: boolean;
}

/** What subscribers see of a job: the snapshot, and the `data` of every job event. */
export interface JobView {
  id: string;
  owner: string;
  title?: string;
  status: JobStatus;
  progress: number;
  stage?: string;
  message?: string;
  eta_ms?: number;
  result?: Json;
  error?: JobError;
  metadata?: { [key: string]: Json };
  output?: JobOutput;
  cancel_requested: boolean;
  created_at: string;
  updated_at: string;
}

/** Items one `POST /v1/jobs/events` may carry. */
export const JOB_UPDATES_MAX_ITEMS = 100;

/** One item's answer in `POST /v1/jobs/events`, in the order the items were sent. */
export type JobUpdateResult =
  | { index: number; ok: true; job: string; seq: number; status: JobStatus; cancel_requested: boolean; duplicate?: true }
  | { index: number; ok: false; job?: string; error: ErrorInfo };

/** A job event's data: the job after the change, plus the producer's free-form `data`. */
export type JobEventData = JobView & { data?: Json };

export const JobEvent = {
  Created: "job:created",
  Update: "job:update",
  Completed: "job:completed",
  Failed: "job:failed",
  Cancelled: "job:cancelled",
} as const satisfies Record<string, keyof JobEvents>;
export type JobEventType = keyof JobEvents;

/**
 * A `job:update` the hub emitted from the job's staged plan (not from the producer)
 * carries `data: { planned: true }`; `stage`, `progress` and `eta_ms` are the plan's.
 */
export interface PlannedData {
  planned: true;
}

/** `error.code` of a job the stall watchdog failed. */
export const STALLED_ERROR_CODE = "stalled";
/** `error.code` of a job that was not final JOB_MAX_LIFETIME_S after it was created. */
export const LIFETIME_ERROR_CODE = "lifetime_exceeded";

export const BatchEvent = {
  Update: "batch:update",
  Completed: "batch:completed",
} as const satisfies Record<string, keyof BatchEvents>;

export interface BatchMember {
  status: JobStatus;
  progress: number;
}

/**
 * The data of `batch:update` and `batch:completed`, and the batch snapshot. `progress`
 * is the mean over members, a finished member (any final state) counting as 100.
 * `jobs` holds every member in the snapshot and in `batch:completed`, and only the
 * members that changed in a `batch:update`.
 */
export interface BatchView {
  id: string;
  total: number;
  completed: number;
  failed: number;
  cancelled: number;
  progress: number;
  jobs?: Record<string, BatchMember>;
}

export interface JobEvents {
  "job:created": JobEventData;
  "job:update": JobEventData;
  "job:completed": JobEventData;
  "job:failed": JobEventData;
  "job:cancelled": JobEventData;
}

export interface BatchEvents {
  "batch:update": BatchView;
  "batch:completed": BatchView;
}
