// Users and rooms: notifications, product events, chat, typing and presence.
import type { ErrorInfo, Json, UserRef } from "./wire.js";

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
  "message:*",
  "typing",
  "presence:*",
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
} as const satisfies Record<string, keyof UserEvents>;
export const RoomEvent = {
  Message: "message",
  MessageEvicted: "message:evicted",
  Typing: "typing",
  PresenceJoin: "presence:join",
  PresenceLeave: "presence:leave",
} as const satisfies Record<string, keyof RoomEvents>;

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
  /** Where the user has sockets now (from the user's session registry), with a count each. */
  channels: { channel: string; sockets: number }[];
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
  /** The most recent messages still in the room's history, oldest first, within ROOM_SNAPSHOT_BYTES. */
  messages: RoomMessage[];
  /** How many older recent messages were left out to fit the byte budget (absent when none). */
  messages_trimmed?: number;
}

/**
 * `data` of a logged `message:evicted` event: a message one member's flood pushed out of
 * the history, compacted in place so every seq stays (see docs/sessions.md).
 */
export interface EvictedMessage {
  id: string;
  from: string;
}

export interface RoomPresence {
  room: string;
  online: (UserRef & { connections: number })[];
}

export type PublishResult = { index: number; ok: true; seq: number; duplicate?: true } | { index: number; ok: false; error: ErrorInfo };

/** The hub's own user-channel events; product events (`like:updated`, ...) are the app's. */
export interface UserEvents {
  notification: Notification;
  "notification:read": NotificationReadData;
}

/** Room events: `message` is logged; `typing` and `presence:*` are ephemeral. */
export interface RoomEvents {
  message: RoomMessage;
  "message:evicted": EvictedMessage;
  typing: TypingData;
  "presence:join": PresenceChange;
  "presence:leave": PresenceChange;
}
