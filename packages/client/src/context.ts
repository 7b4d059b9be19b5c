// What every channel of a client shares, resolved once from the options: where the hub
// is, the token, the WebSocket and fetch to use, timings, and the timers tests replace.
import { DEFAULT_BACKOFF } from "./backoff.js";
import { DovetailError } from "./codes.js";
import { DEFAULT_QUEUE } from "./requests.js";
import { TokenCache } from "./tokens.js";
import type { ClientOptions, ConnectionContext, FetchLike, SocketFactory, Timers } from "./types.js";

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
