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

// --- users and rooms (issue 3) ---

/** How long a receiver shows "typing" unless a fresh `typing` frame extends it. */
export const TYPING_EXPIRES_MS = 5_000;
/** A chat message's text, in UTF-16 characters (what String.length counts). */
export const MESSAGE_MAX_CHARS = 4_000;
/** Items one `POST /v1/publish` may carry. */
export const PUBLISH_MAX_ITEMS = 100;

/** Product event types: lower-case, `:`/`.`/`-`/`_` separated, at most 64 characters. */
export const PRODUCT_EVENT_TYPE = /^[a-z][a-z0-9_.:-]{0,63}$/;
/** Types the hub itself sends; a producer may not forge them. Entries ending in `*` are prefixes. */
export const RESERVED_EVENT_TYPES = [
  "connected",
  "ack",
  "error",
  "ping",
  "pong",
  "heartbeat",
  "message",
  "typing",
  "presence:*",
  "notification*",
  "job:*",
  "batch:*",
] as const;

export function isReservedEventType(type: string): boolean {
  return RESERVED_EVENT_TYPES.some((r) => (r.endsWith("*") ? type.startsWith(r.slice(0, -1)) : type === r));
}

export const UserEvent = { Notification: "notification", NotificationRead: "notification:read" } as const;
export const RoomEvent = {
  Message: "message",
  Typing: "typing",
  PresenceJoin: "presence:join",
  PresenceLeave: "presence:leave",
} as const;

/** `data` of a `notification` event, and an entry of the inbox. */
export interface Notification {
  id: string;
  kind: string;
  title?: string;
  body?: string;
  data?: Json;
  created_at: string;
  read: boolean;
}

/** The `connected` snapshot on `/v1/ws/user`: unread notifications, newest first. */
export interface UserSnapshot {
  unread: Notification[];
  unread_count: number;
}

/** `data` of a logged `notification:read` event: the ids that just became read. */
export interface NotificationReadData {
  ids: string[];
}

export interface UserPresence {
  user: string;
  online: boolean;
  connections: number;
  /** Now when online; when the last socket closed otherwise; null if never seen. */
  last_seen: string | null;
}

export type RoomVisibility = "private" | "public";

/** `data` of a logged `message` event. `from` and `name` come from the token, never the client. */
export interface RoomMessage {
  id: string;
  from: string;
  name?: string;
  text: string;
  data?: Json;
  ts: string;
}

/** `data` of the ephemeral `typing` frame; receivers drop it after `expires_in_ms`. */
export interface TypingData {
  user: UserRef;
  typing: boolean;
  expires_in_ms: number;
}

/** `data` of the ephemeral `presence:join` and `presence:leave` frames: once per user, not per tab. */
export interface PresenceChange {
  user: UserRef;
}

/** The `connected` snapshot on `/v1/ws/room/:id`. */
export interface RoomSnapshot {
  id: string;
  visibility: RoomVisibility;
  online: UserRef[];
  /** The most recent messages still in the room's history, oldest first. */
  messages: RoomMessage[];
}

export interface RoomPresence {
  room: string;
  online: (UserRef & { connections: number })[];
}

export type PublishResult =
  | { index: number; ok: true; seq: number; duplicate?: true }
  | { index: number; ok: false; error: { code: string; message: string } };

// --- webhooks and client events ---

/** The `type` of every webhook the hub sends, as a table (docs/webhooks.md). */
export const WebhookEvent = {
  CancelRequested: "job.cancel_requested",
  Stalled: "job.stalled",
  RoomOccupied: "room.occupied",
  RoomVacated: "room.vacated",
  MemberJoined: "room.member_joined",
  MemberLeft: "room.member_left",
  UserOnline: "user.online",
  UserOffline: "user.offline",
  ClientEvent: "client.event",
} as const;
export type WebhookEventType = (typeof WebhookEvent)[keyof typeof WebhookEvent];

/** `data` of each webhook type. */
export interface WebhookData {
  "job.cancel_requested": { job: JobView; by: UserRef };
  "job.stalled": { job: JobView };
  "room.occupied": { room: string };
  "room.vacated": { room: string };
  "room.member_joined": { room: string; user: UserRef };
  "room.member_left": { room: string; user: UserRef };
  "user.online": { user: UserRef };
  "user.offline": { user: UserRef };
  "client.event": ClientEventData;
}

/** What a client's `emit` frame becomes: its event and data, stamped by the hub with who sent it. */
export interface ClientEventData {
  event: string;
  data: Json | null;
  user: UserRef;
  connection_id: string;
}

/**
 * A webhook's JSON body (Standard Webhooks: `type`, `timestamp`, `data`), with the
 * channel it happened on. `timestamp` is when the hub saw it happen; the `webhook-id`
 * header is the same on every retry, so a receiver dedupes by it.
 */
export type WebhookPayload<T extends WebhookEventType = WebhookEventType> = {
  [K in T]: { type: K; timestamp: string; channel: string; data: WebhookData[K] };
}[T];

/** A client frame that reaches the backend as a `client.event` webhook. `data` is at most 16 KiB of JSON. */
export const EMIT_DATA_MAX_BYTES = 16_384;

/** A webhook the hub gave up on, as GET /v1/webhooks/failed lists it. */
export interface DeadLetter {
  /** The `webhook-id` it was sent with; a replay sends it with the same id. */
  id: string;
  channel: string;
  type: WebhookEventType;
  payload: WebhookPayload;
  queued_at: string;
  failed_at: string;
  attempts: number;
  last_error: string;
}
