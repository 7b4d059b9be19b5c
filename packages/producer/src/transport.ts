// One HTTP call to the hub, with the retry rules every helper shares: network errors and
// 5xx are retried with full-jitter backoff, 429 waits what Retry-After says, any other
// 4xx is the caller's mistake and is thrown at once. A body is built once, so an
// `event_id` or `id` in it is the same on every attempt and the hub dedupes the retries.

import type { ErrorCode } from "../../../src/protocol/index.js";
import { backoffDelay } from "../../client/src/backoff.js";

export interface RetryOptions {
  /** Attempts in all, the first included. Default 5; 1 turns retries off. */
  attempts: number;
  /** The ceiling of the first retry's delay. Default 250 ms. */
  baseMs: number;
  /** No wait is longer than this, Retry-After included. Default 30 s. */
  maxMs: number;
}

export const DEFAULT_RETRY: RetryOptions = { attempts: 5, baseMs: 250, maxMs: 30_000 };

/** Codes the SDK adds to the hub's own for failures that never got an answer. */
export type TransportErrorCode = "network_error" | "timeout";

/** Every failure of a call: switch on `code` (the hub's error code, or a transport one). */
export class ProducerError extends Error {
  override readonly name = "ProducerError";
  constructor(
    readonly code: ErrorCode | TransportErrorCode | (string & {}),
    message: string,
    /** The HTTP status, or 0 when no answer came. */
    readonly status: number,
    readonly issues?: { path?: string; message: string }[],
    /** Seconds, from a 429's Retry-After. */
    readonly retryAfterS?: number,
  ) {
    super(message);
  }
}

export interface TransportOptions {
  url: string;
  key: string;
  retry: RetryOptions;
  /** Per attempt. */
  timeoutMs: number;
  fetch: typeof fetch;
  /** Waits between attempts; injectable so tests need not sleep. */
  sleep: (ms: number) => Promise<void>;
  random: () => number;
}

export interface Call {
  method: "GET" | "POST" | "PUT" | "DELETE" | "HEAD";
  path: string;
  /** JSON body (serialized once), or raw bytes with their content type. */
  json?: unknown;
  raw?: { body: string | Uint8Array; contentType: string };
  headers?: Record<string, string>;
  /** Statuses that are answers, not errors (a stream's 404 on HEAD, say). */
  accept?: number[];
}

export async function send(options: TransportOptions, call: Call): Promise<Response> {
  // Any Uint8Array is a valid body at run time; TypeScript 5.9 wants an ArrayBuffer-backed one.
  const body = (call.json !== undefined ? JSON.stringify(call.json) : call.raw?.body) as BodyInit | undefined;
  const headers: Record<string, string> = { Authorization: `Bearer ${options.key}`, ...call.headers };
  if (call.json !== undefined) headers["Content-Type"] = "application/json";
  if (call.raw) headers["Content-Type"] = call.raw.contentType;
  const url = new URL(call.path, options.url);
  for (let attempt = 0; ; attempt++) {
    const last = attempt + 1 >= options.retry.attempts;
    let response: Response;
    try {
      response = await options.fetch(url, { method: call.method, headers, body, signal: AbortSignal.timeout(options.timeoutMs) });
    } catch (err) {
      const timedOut = err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError");
      const error = new ProducerError(timedOut ? "timeout" : "network_error", `${call.method} ${call.path}: ${String(err)}`, 0);
      if (last) throw error;
      await options.sleep(backoffDelay(attempt, options.retry, options.random));
      continue;
    }
    if (response.ok || call.accept?.includes(response.status)) return response;
    const error = await toError(response, call);
    const retryable = response.status >= 500 || response.status === 429;
    if (!retryable || last) throw error;
    const wait = error.retryAfterS !== undefined ? error.retryAfterS * 1000 : backoffDelay(attempt, options.retry, options.random);
    await options.sleep(Math.min(wait, options.retry.maxMs));
  }
}

async function toError(response: Response, call: Call): Promise<ProducerError> {
  const text = await response.text();
  let payload: { error?: { code?: string; message?: string; issues?: { path?: string; message: string }[] } } = {};
  try {
    payload = JSON.parse(text);
  } catch {}
  const retryAfter = Number(response.headers.get("Retry-After"));
  return new ProducerError(
    payload.error?.code ?? `http_${response.status}`,
    payload.error?.message ?? `${call.method} ${call.path} answered ${response.status}`,
    response.status,
    payload.error?.issues,
    Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined,
  );
}

export async function sendJson<T>(options: TransportOptions, call: Call): Promise<T> {
  const response = await send(options, call);
  return (await response.json()) as T;
}
