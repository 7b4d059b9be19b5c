// GET (catch-up and long-poll) and HEAD.

import { concatBytes } from "../bytes";
import { HubError } from "../errors";
import { READ_BUDGET_BYTES, type StreamContext } from "./context";
import { slidingTtlS } from "./expiry";
import { H } from "./headers";
import { jsonArray } from "./json-mode";
import { formatOffset, nextCursor, type Position, type ReadFrom, START, samePosition } from "./offsets";
import type { ReadSpec } from "./operation";
import { CACHEABLE, emptyResponse, fail, missing, NO_STORE, streamHeaders } from "./responses";
import type { AppendRow, StreamMeta } from "./store";

const EMPTY_JSON = new TextEncoder().encode("[]");

/** Where a read starts; an offset must be one this stream gave out (400 otherwise). */
export function startOf(ctx: StreamContext, from: ReadFrom): Position {
  if (from.kind === "start") return START;
  if (from.kind === "now") return ctx.store.tail();
  if (!ctx.store.isBoundary(from.position)) {
    throw new HubError("validation_failed", "offset is not a position in this stream", [{ path: "offset", message: "unknown offset" }]);
  }
  return from.position;
}

export function head(ctx: StreamContext): Response {
  const meta = ctx.current();
  if (!meta || meta.gone) return missing(meta);
  const headers = streamHeaders(meta, ctx.store.tail(), { "Cache-Control": NO_STORE });
  const ttl = slidingTtlS(meta, ctx.limits.defaultTtlS);
  if (ttl !== null) headers.set(H.ttl, String(ttl));
  if (meta.expiresAt !== null) headers.set(H.expiresAt, new Date(meta.expiresAt).toISOString());
  return new Response(null, { status: 200, headers });
}

function payload(meta: StreamMeta, rows: readonly AppendRow[]): Uint8Array {
  const parts = rows.map((r) => r.data);
  return meta.json ? jsonArray(parts) : concatBytes(parts);
}

/** A 200 with the appends after `from` (at most READ_BUDGET_BYTES), or a 304 for a matching ETag. */
function dataResponse(ctx: StreamContext, meta: StreamMeta, from: Position, spec: ReadSpec, cursor?: string): Response {
  const { rows, next } = ctx.store.readFrom(from, READ_BUDGET_BYTES);
  const atTail = samePosition(next, ctx.store.tail());
  const headers = streamHeaders(atTail ? meta : { ...meta, closed: false }, next, {
    // A tail read of an open stream goes stale with the next append.
    "Cache-Control": atTail && !meta.closed ? NO_STORE : CACHEABLE,
  });
  if (atTail) headers.set(H.upToDate, "true");
  if (cursor !== undefined) headers.set(H.cursor, cursor);
  const etag = `"${meta.incarnation}:${formatOffset(from)}:${formatOffset(next)}${atTail && meta.closed ? ":closed" : ""}"`;
  headers.set("ETag", etag);
  if (spec.ifNoneMatch?.split(",").some((tag) => tag.trim() === etag)) return emptyResponse(304, headers);
  return new Response(payload(meta, rows), { status: 200, headers });
}

export function catchUp(ctx: StreamContext, spec: ReadSpec): Response {
  const meta = ctx.current();
  if (!meta || meta.gone) return missing(meta);
  ctx.touch();
  if (spec.from.kind === "now") {
    // No data and no ETag: the body is "nothing yet" in the stream's own format.
    const headers = streamHeaders(meta, ctx.store.tail(), { "Cache-Control": NO_STORE, [H.upToDate]: "true" });
    return new Response(meta.json ? EMPTY_JSON : null, { status: 200, headers });
  }
  return dataResponse(ctx, meta, startOf(ctx, spec.from), spec);
}

/** 204: nothing arrived in time, or the stream is closed and fully read. */
function noContent(meta: StreamMeta, tail: Position, cursor: string): Response {
  return emptyResponse(204, streamHeaders(meta, tail, { "Cache-Control": NO_STORE, [H.upToDate]: "true", [H.cursor]: cursor }));
}

/**
 * Answers at once when there is data after the offset (or the stream is closed);
 * otherwise holds the request in the object until an append, a close, or the timeout.
 */
export async function longPoll(ctx: StreamContext, spec: ReadSpec, signal?: AbortSignal): Promise<Response> {
  let meta = ctx.current();
  if (!meta || meta.gone) return missing(meta);
  ctx.touch();
  const from = startOf(ctx, spec.from);
  const cursor = nextCursor(ctx.now(), spec.cursor);
  const deadline = ctx.now() + ctx.limits.longPollTimeoutMs;
  let entered = false;
  try {
    for (;;) {
      if (!samePosition(from, ctx.store.tail())) return dataResponse(ctx, meta, from, spec, cursor);
      if (meta.closed) return noContent(meta, from, cursor);
      if (!entered) {
        if (!ctx.live.enter(ctx.limits.maxLiveReaders)) {
          return fail("rate_limited", `this stream has ${ctx.limits.maxLiveReaders} live readers already`, { "Retry-After": "1" });
        }
        entered = true;
      }
      const wake = await ctx.live.wait(deadline - ctx.now(), signal);
      // Its client went away: free the slot now rather than at the timeout.
      if (wake === "left") return new Response(null, { status: 204 });
      meta = ctx.current();
      if (!meta || meta.gone || wake === "gone") return missing(meta);
      if (wake === "timeout" && samePosition(from, ctx.store.tail()) && !meta.closed) return noContent(meta, from, cursor);
    }
  } finally {
    if (entered) ctx.live.leave();
  }
}
