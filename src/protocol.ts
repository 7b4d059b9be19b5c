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
  /** On a logged event a producer asked to retain: the key it is kept under in the snapshot's `retained`. */
  retain_key?: string;
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
  "read",
  "read_all",
  "user:online",
  "user:offline",
  "notification*",
  "job:*",
  "batch:*",
] as const;

export function isReservedEventType(type: string): boolean {
  return RESERVED_EVENT_TYPES.some((r) => (r.endsWith("*") ? type.startsWith(r.slice(0, -1)) : type === r));
}

export const UserEvent = {
  Notification: "notification",
  NotificationRead: "notification:read",
  ContactOnline: "user:online",
  ContactOffline: "user:offline",
} as const;
export const RoomEvent = {
  Message: "message",
  Typing: "typing",
  PresenceJoin: "presence:join",
  PresenceLeave: "presence:leave",
  Read: "read",
} as const;

/** The latest value of a retained event, in a snapshot's `retained` under its key. */
export interface RetainedValue {
  type: string;
  data: Json | null;
  seq: number;
  ts: string;
}

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
  /** Retained product events, by key. */
  retained: Record<string, RetainedValue>;
}

/**
 * `data` of a logged `notification:read` event: the ids that just became read, `all`
 * when every notification was marked read, and the unread count after the change.
 */
export interface NotificationReadData {
  ids: string[];
  all?: true;
  unread_count: number;
}

/**
 * A contact's online state: the `data` of the ephemeral `user:online` / `user:offline`
 * frames on a watcher's user channel, and an entry of `GET /v1/presence`.
 */
export interface ContactStatus {
  user: UserRef;
  online: boolean;
  /** Now when online; when the last socket closed otherwise; null if never seen. */
  last_seen: string | null;
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

/** A message as history gives it: with the seq it was logged at, to page back from. */
export type HistoryMessage = RoomMessage & { seq: number };

/** How far a user has read a room: the ephemeral `read` frame, and an entry of the snapshot's `reads`. */
export interface ReadReceipt {
  user: UserRef;
  up_to: number;
}

/** The `connected` snapshot on `/v1/ws/room/:id`. */
export interface RoomSnapshot {
  id: string;
  visibility: RoomVisibility;
  online: UserRef[];
  /** The most recent messages still in the room's history, oldest first. */
  messages: HistoryMessage[];
  /** Retained product events, by key. */
  retained: Record<string, RetainedValue>;
  /** The latest read receipts, one per user. */
  reads: ReadReceipt[];
}

/** `GET /v1/rooms/:id/messages`: newest first. */
export interface HistoryPage {
  room: string;
  messages: HistoryMessage[];
  /** Pass as `before` for the next (older) page; null when this page reached the end. */
  next_before: number | null;
  /**
   * Why there is nothing older: "start" (the room's first event is in the log) or
   * "retention" (older events were trimmed). Null while there may be more.
   */
  end: "start" | "retention" | null;
}

export interface RoomPresence {
  room: string;
  online: (UserRef & { connections: number })[];
}

export type PublishResult =
  | { index: number; ok: true; seq: number; duplicate?: true }
  | { index: number; ok: false; error: { code: string; message: string } };
