import type { BackoffOptions } from "./backoff.js";
import type { QueueOptions } from "./requests.js";

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

/** The subset of fetch the client uses for HTTP reads (history, presence). */
export type FetchLike = (
  url: string,
  init: { headers: Record<string, string> },
) => Promise<{ ok: boolean; status: number; json(): Promise<unknown> }>;

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
  /** Sends made while not connected wait in order, up to `max` (100) and `maxAgeMs` (60 s). */
  queue?: Partial<QueueOptions>;
  /** Defaults to the global fetch; used for room history and contacts' presence. */
  fetch?: FetchLike;
  /** Reconnect at once on `online` / a tab becoming visible. Default true where available. */
  lifecycle?: boolean;
  timers?: Timers;
  random?: () => number;
  /** The clock (ms since the epoch) for a token's exp and for round-trip times. Default Date.now. */
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
  /** The latest round-trip time of a ping, in ms, once one was measured. */
  rttMs?: number;
}

// Channel payloads are the wire types themselves: one definition, in src/protocol/.
export type { BatchView, Notification, RoomMessage, RoomSnapshot, UserSnapshot } from "../../../src/protocol/index.js";
