// Webhooks: what the hub POSTs to a backend (docs/webhooks.md), and the client's `emit`.
import type { JobView } from "./jobs.js";
import type { Json, UserRef } from "./wire.js";

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
