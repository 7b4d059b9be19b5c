// Frames every channel shares: the handshake, close codes, errors, heartbeats.

export type Json = string | number | boolean | null | object;

export const SUBPROTOCOL = "dovetail.v1";
export const BEARER_PREFIX = "bearer.";

/** Answered by the runtime without waking the hub (setWebSocketAutoResponse). */
export const PING_FRAME = '{"type":"ping"}';
export const PONG_FRAME = '{"type":"pong"}';

export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  /** A binary frame: the hub speaks JSON text only. */
  UnsupportedData: 1003,
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

/** `data` of an `ack`: the frame's `ref`, plus what the hub says about it (`id`, `seq`, ...). */
export interface AckData {
  ref?: string | number;
  [key: string]: unknown;
}

/** An error as every answer carries it: HTTP bodies, bulk results, `error` frames. */
export interface ErrorInfo {
  code: string;
  message: string;
  issues?: { path?: string; message: string }[];
}

/** `data` of an `error` frame: the frame's `ref` and the same fields as an HTTP error. */
export interface ErrorFrameData extends ErrorInfo {
  ref?: string | number;
}

/** Stable codes for HTTP errors and `error` frames. */
export const ERROR_CODES = [
  "unauthorized",
  "forbidden",
  "not_found",
  "conflict",
  "job_finished",
  "stream_closed",
  "gone",
  "validation_failed",
  "payload_too_large",
  "unsupported_media_type",
  "unsupported_data",
  "rate_limited",
  "upgrade_required",
  "method_not_allowed",
  "misconfigured",
  "internal",
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** Ephemeral, every HEARTBEAT_INTERVAL_S while a socket is open. Answer with a ping. */
export const HEARTBEAT_FRAME = "heartbeat";
export interface HeartbeatData {
  interval_ms: number;
}

/**
 * Ephemeral, in place of a logged event this socket was left out of (`exclude_user`): the
 * client takes `seq` as seen, so the next event is no gap. Never logged nor replayed.
 */
export const SKIP_FRAME = "skip";
export interface SkipData {
  seq: number;
}

/** Frames any channel sends besides its own events. */
export interface HubFrames {
  connected: ConnectedData;
  heartbeat: HeartbeatData;
  skip: SkipData;
  ack: AckData;
  error: ErrorFrameData;
}
