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
} as const satisfies Record<string, keyof UserEvents>;
export const RoomEvent = {
  Message: "message",
  MessageEvicted: "message:evicted",
  Typing: "typing",
  PresenceJoin: "presence:join",
  PresenceLeave: "presence:leave",
  Read: "read",
} as const satisfies Record<string, keyof RoomEvents>;

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
  /** The most recent messages still in the room's history, oldest first, within ROOM_SNAPSHOT_BYTES. */
  messages: HistoryMessage[];
  /** How many older recent messages were left out to fit the byte budget (absent when none). */
  messages_trimmed?: number;
  /** Retained product events, by key. */
  retained: Record<string, RetainedValue>;
  /** The latest read receipts, one per user, most recent first. */
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
   * "retention" (older events were trimmed, or messages evicted). Null while there may be more.
   */
  end: "start" | "retention" | null;
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
  "user:online": ContactStatus;
  "user:offline": ContactStatus;
}

/** Room events: `message` is logged; `typing` and `presence:*` are ephemeral. */
export interface RoomEvents {
  message: RoomMessage;
  "message:evicted": EvictedMessage;
  typing: TypingData;
  "presence:join": PresenceChange;
  "presence:leave": PresenceChange;
  read: ReadReceipt;
}
