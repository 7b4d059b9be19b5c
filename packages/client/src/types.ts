import type { ConnectedData, ServerFrame } from "../../../src/protocol/index.js";
import type { BackoffOptions } from "./backoff.js";
import type { TokenCache } from "./tokens.js";

/** setTimeout/clearTimeout, injectable so tests move time without sleeping. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The subset of the WHATWG WebSocket the client uses (browsers, Node 22, or a fake). */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: any) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: any) => void) | null;
}
export type SocketFactory = new (url: string, protocols: string[]) => SocketLike;

export type TokenSource = string | (() => string | Promise<string>);

export interface ClientOptions {
  /** The hub's base URL: https://hub.example.com (ws/wss also accepted). */
  url: string;
  /**
   * A JWT, or a function that fetches a fresh one: called ahead of the token's exp (the
   * new token goes to open sockets as an `auth` frame) and again after a 4001 close.
   */
  token: TokenSource;
  /** Defaults to the global WebSocket (browsers, Node >= 22). */
  WebSocket?: SocketFactory;
  backoff?: Partial<BackoffOptions>;
  /** The least a 4008/4009 close waits before the next try. Default 5 s. */
  rateLimitedMinMs?: number;
  /** A ping goes out this often while open. Default 20 s. */
  pingIntervalMs?: number;
  /** Silence beyond one ping interval plus this means a dead connection. Default 10 s. */
  pongTimeoutMs?: number;
  /** How long send() waits for its ack or error. Default 10 s. */
  sendTimeoutMs?: number;
  /** Reconnect at once on `online` / a tab becoming visible. Default true where available. */
  lifecycle?: boolean;
  timers?: Timers;
  random?: () => number;
  /** The clock a token's exp is compared with. Default Date.now. */
  now?: () => number;
}

export type Status = "connecting" | "open" | "reconnecting" | "closed";

export interface StatusChange {
  status: Status;
  /** Why, for people: "connected", "resumed", "token rejected", "closed 4003: ...". */
  reason: string;
  /** The close code that caused this change, when there was one. */
  code?: number;
  /** For "reconnecting": the delay before the next try and the try's number. */
  delayMs?: number;
  attempt?: number;
}

// Channel payloads are the wire types themselves: one definition, in src/protocol/.
export type { BatchView, Notification, RoomMessage, RoomSnapshot, UserSnapshot } from "../../../src/protocol/index.js";

/** Everything a connection needs from its client, resolved from the options. */
export interface ConnectionContext {
  baseUrl: string;
  tokens: TokenCache;
  WebSocket: SocketFactory;
  backoff: BackoffOptions;
  rateLimitedMinMs: number;
  pingIntervalMs: number;
  pongTimeoutMs: number;
  sendTimeoutMs: number;
  timers: Timers;
  random: () => number;
  /** Milliseconds since the epoch: when a token's exp comes. */
  now: () => number;
}

export interface ConnectionHooks {
  /** The `connected` frame; `data.resumed` false means rebuild from `data.snapshot`. */
  connected(data: ConnectedData): void;
  /** Every other frame, each logged seq exactly once and in order. */
  frame(frame: ServerFrame): void;
  status(change: StatusChange): void;
  /** The query to reconnect with, when the socket resumes by something other than since/epoch (a stream's offset). */
  resumeQuery?(): Record<string, string>;
}
