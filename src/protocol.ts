// The wire contract (docs/protocol.md). Server and client both import from here; the
// client uses `import type` only, so nothing of the server ships to browsers.

/** Any JSON value: what producers may attach as result, metadata or data. */
export type Json = string | number | boolean | null | object;

export const SUBPROTOCOL = "dovetail.v1";
export const BEARER_PREFIX = "bearer.";

/** Answered by the runtime without waking the hub (setWebSocketAutoResponse). */
export const PING_FRAME = '{"type":"ping"}';
export const PONG_FRAME = '{"type":"pong"}';

export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  Policy: 1008,
  TooBig: 1009,
  Internal: 1011,
  Unauthorized: 4001,
  Forbidden: 4003,
  NotFound: 4004,
  RateLimited: 4008,
  TooManyConnections: 4009,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

export const CHANNEL_KINDS = ["user", "job", "room", "batch"] as const;
export type ChannelKind = (typeof CHANNEL_KINDS)[number];

/** Every frame the server sends. Logged events carry `seq`; ephemeral frames do not. */
export interface ServerFrame<T extends string = string, D = unknown> {
  type: T;
  channel?: string;
  seq?: number;
  ts: string;
  data: D;
}

export interface UserRef {
  id: string;
  name?: string;
}

export interface ConnectedData<S = unknown> {
  connection_id: string;
  user: UserRef;
  epoch: string;
  seq: number;
  resumed: boolean;
  snapshot: S;
  heartbeat_ms: number;
}

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
  cancel_requested: boolean;
  created_at: string;
  updated_at: string;
}

/** A job event's data: the job after the change, plus the producer's free-form `data`. */
export type JobEventData = JobView & { data?: Json };

export const JobEvent = {
  Created: "job:created",
  Update: "job:update",
  Completed: "job:completed",
  Failed: "job:failed",
  Cancelled: "job:cancelled",
} as const;
export type JobEventType = (typeof JobEvent)[keyof typeof JobEvent];

export interface AckData {
  ref?: string | number;
}

export interface ErrorFrameData {
  ref?: string | number;
  code: string;
  message: string;
}

/** Stable codes for HTTP errors and `error` frames. */
export const ERROR_CODES = [
  "unauthorized",
  "forbidden",
  "not_found",
  "conflict",
  "job_finished",
  "validation_failed",
  "payload_too_large",
  "unsupported_data",
  "rate_limited",
  "upgrade_required",
  "misconfigured",
  "internal",
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

// --- timers, stages and batches (issue 4) ---

/** Ephemeral, every HEARTBEAT_INTERVAL_S while a socket is open. Answer with a ping. */
export const HEARTBEAT_FRAME = "heartbeat";
export interface HeartbeatData {
  interval_ms: number;
}

/**
 * A `job:update` the hub emitted from the job's staged plan (not from the producer)
 * carries `data: { planned: true }`; `stage`, `progress` and `eta_ms` are the plan's.
 */
export interface PlannedData {
  planned: true;
}

/** `error.code` of a job the stall watchdog failed. */
export const STALLED_ERROR_CODE = "stalled";

export const BatchEvent = {
  Update: "batch:update",
  Completed: "batch:completed",
} as const;
export type BatchEventType = (typeof BatchEvent)[keyof typeof BatchEvent];

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
