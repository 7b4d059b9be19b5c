// What a connection gets from its client (resolved options) and gives back (hooks), and
// how the options resolve: where the hub is, the token, the WebSocket and fetch to use,
// timings, and the timers tests replace. getJson is the client's HTTP reads.
import type { ConnectedData, ServerFrame } from "../../../src/protocol/index.js";
import { type BackoffOptions, DEFAULT_BACKOFF } from "./backoff.js";
import { DovetailError } from "./codes.js";
import { DEFAULT_QUEUE, type QueueOptions } from "./requests.js";
import { TokenCache } from "./tokens.js";
import type { ClientOptions, FetchLike, SocketFactory, StatusChange, Timers } from "./types.js";

/** Everything a connection needs from its client, resolved from the options. */
export interface ConnectionContext {
  baseUrl: string;
  tokens: TokenCache;
  WebSocket: SocketFactory;
  fetch: FetchLike | undefined;
  backoff: BackoffOptions;
  rateLimitedMinMs: number;
  pingIntervalMs: number;
  pongTimeoutMs: number;
  sendTimeoutMs: number;
  queue: QueueOptions;
  timers: Timers;
  random: () => number;
  /** Milliseconds since the epoch: when a token's exp comes, and round-trip times. */
  now: () => number;
  /** The client's latest round-trip time (`client.rtt`), whichever channel measured it. */
  roundTrips: { rttMs?: number };
}

export interface ConnectionHooks {
  /** The `connected` frame; `data.resumed` false means rebuild from `data.snapshot`. */
  connected(data: ConnectedData): void;
  /** Every other frame, each logged seq exactly once and in order. */
  frame(frame: ServerFrame): void;
  status(change: StatusChange): void;
  /** How many sends wait for the connection changed. */
  queued(count: number): void;
  /** The query to reconnect with, when the socket resumes by something other than since/epoch (a stream's offset). */
  resumeQuery?(): Record<string, string>;
}

const realTimers: Timers = {
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export function resolveContext(options: ClientOptions): ConnectionContext {
  const WebSocketImpl = options.WebSocket ?? (globalThis as { WebSocket?: SocketFactory }).WebSocket;
  if (!WebSocketImpl) throw new TypeError("no WebSocket: pass options.WebSocket (Node < 22)");
  const globalFetch = (globalThis as { fetch?: FetchLike }).fetch;
  return {
    baseUrl: options.url,
    tokens: new TokenCache(options.token),
    WebSocket: WebSocketImpl,
    fetch: options.fetch ?? (globalFetch ? (input, init) => globalFetch(input, init) : undefined),
    backoff: { ...DEFAULT_BACKOFF, ...options.backoff },
    rateLimitedMinMs: options.rateLimitedMinMs ?? 5_000,
    pingIntervalMs: options.pingIntervalMs ?? 20_000,
    pongTimeoutMs: options.pongTimeoutMs ?? 10_000,
    sendTimeoutMs: options.sendTimeoutMs ?? 10_000,
    queue: { ...DEFAULT_QUEUE, ...options.queue },
    timers: options.timers ?? realTimers,
    random: options.random ?? Math.random,
    now: options.now ?? (() => Date.now()),
    roundTrips: {},
  };
}

/**
 * A GET to the hub's HTTP API with the client's token (history, presence). A 401 gets
 * one retry with a fresh token; any other error answer rejects with its code.
 */
export async function getJson<T>(ctx: ConnectionContext, path: string): Promise<T> {
  if (!ctx.fetch) throw new DovetailError("no_fetch", "no fetch: pass options.fetch");
  const url = `${ctx.baseUrl.replace(/^ws/i, "http").replace(/\/+$/, "")}${path}`;
  let token = await ctx.tokens.get();
  let res = await ctx.fetch(url, { headers: { Authorization: `Bearer ${token}` } });
  if (res.status === 401 && ctx.tokens.refreshable) {
    token = await ctx.tokens.refresh(token);
    res = await ctx.fetch(url, { headers: { Authorization: `Bearer ${token}` } });
  }
  const body = (await res.json().catch(() => null)) as { error?: { code?: string; message?: string } } | null;
  if (!res.ok) throw new DovetailError(body?.error?.code ?? `http_${res.status}`, body?.error?.message ?? `${path} answered ${res.status}`);
  return body as T;
}
