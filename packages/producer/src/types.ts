// What the helpers take and answer. Wire types (jobs, notifications, webhooks) are the
// hub's own, from its protocol module; these are the producer-side inputs around them.
import type {
  JobError,
  JobStage,
  JobStatus,
  JobUpdateResult,
  JobView,
  Json,
  Notification,
  PublishResult,
  RoomPresence,
  RoomVisibility,
  UserPresence,
} from "../../../src/protocol/index.js";

export interface JobSpec {
  /** Generated when omitted, once, so a retried create is recognised as the same job. */
  id?: string;
  owner: string;
  viewers?: string[];
  title?: string;
  metadata?: Record<string, Json>;
  stages?: JobStage[];
  stall_timeout_s?: number;
  ttl_s?: number;
  /** This job's webhooks (cancel requests, stalls, client events) go here instead of WEBHOOK_URL. */
  webhook_url?: string;
  /** Gives the job an output stream, jobs/<id>/output (default text/plain): append with `streams.append`. */
  output?: { content_type?: string };
}

export interface JobUpdate {
  /** Generated when omitted and reused by every retry of this call. */
  event_id?: string;
  status?: JobStatus;
  progress?: number;
  stage?: string;
  message?: string;
  eta_ms?: number;
  result?: Json;
  error?: JobError;
  data?: Json;
}

/** What producers see of a job: the subscriber view, its viewers and its last seq. */
export type JobState = JobView & { viewers: string[]; seq: number };

export interface JobReport {
  seq: number;
  state: JobState;
  /** True once the owner pressed cancel: stop the work, then report `cancelled(id)`. */
  cancel_requested: boolean;
  /** This event_id was seen before; nothing was delivered twice. */
  duplicate?: true;
}

/** One item of a bulk job update: the job's id and its update. */
export type BulkJobUpdate = JobUpdate & { job: string };
/** One item's answer: the job's seq and status after it, or the item's own error. */
export type BulkJobResult = JobUpdateResult;

export interface BulkJobAnswer {
  results: BulkJobResult[];
  applied: number;
  failed: number;
}

export interface NotificationInput {
  /** Generated when omitted; the hub dedupes by it, so retries never notify twice. */
  id?: string;
  kind: string;
  title?: string;
  body?: string;
  data?: Json;
}

export interface Delivered {
  seq: number;
  duplicate?: true;
}

export interface EventOptions {
  /** Generated when omitted and reused by every retry. */
  event_id?: string;
}

export interface RoomSettings {
  visibility: RoomVisibility;
  members?: string[];
  webhook_url?: string;
}

export interface RoomState {
  id: string;
  visibility: RoomVisibility;
  members: string[];
  updated_at: string;
}

export interface PublishItem {
  channel: `user:${string}` | `room:${string}`;
  type: string;
  data?: Json;
  event_id?: string;
}

export interface PublishAnswer {
  results: PublishResult[];
  delivered: number;
  failed: number;
}

export type { JobError, JobView, Json, Notification, PublishResult, RoomPresence, UserPresence };
