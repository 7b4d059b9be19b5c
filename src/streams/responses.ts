// Responses a StreamHub answers with: the protocol's headers, and errors in the hub's one
// error shape (`{ error: { code, message } }`), which may carry protocol headers too
// (Stream-Closed on a 409, Producer-Epoch on a 403, ...).
import { errorBody, HubError } from "../errors";
import type { ErrorCode } from "../protocol";
import { H } from "./headers";
import { formatOffset, type Position } from "./offsets";
import type { StreamMeta } from "./store";

/** Tail reads, HEAD and offset=now: the answer changes as soon as someone appends. */
export const NO_STORE = "no-store";
/** A range below the tail never changes; private because every stream here needs auth. */
export const CACHEABLE = "private, max-age=60, stale-while-revalidate=300";

export function errorResponse(err: HubError, headers: HeadersInit = {}): Response {
  return Response.json(errorBody(err), { status: err.status, headers });
}

export function fail(code: ErrorCode, message: string, headers: HeadersInit = {}): Response {
  return errorResponse(new HubError(code, message), headers);
}

/** 404 for a path with no stream; 410 for one deleted while forks still reference it. */
export function missing(meta: StreamMeta | null): Response {
  return meta?.gone ? fail("gone", "stream was deleted; its forks still reference it") : fail("not_found", "stream not found");
}

/** The headers every answer about an existing stream carries. */
export function streamHeaders(meta: StreamMeta, tail: Position, extra: Record<string, string> = {}): Headers {
  const headers = new Headers({ "Content-Type": meta.contentType, [H.nextOffset]: formatOffset(tail), ...extra });
  if (meta.closed) headers.set(H.closed, "true");
  return headers;
}

/** An answer without a body (no Content-Type either). */
export function emptyResponse(status: number, headers: Headers): Response {
  headers.delete("Content-Type");
  return new Response(null, { status, headers });
}

/** Runs a handler; a HubError it throws becomes its JSON answer. */
export async function answer(handler: () => Response | Promise<Response>): Promise<Response> {
  try {
    return await handler();
  } catch (err) {
    if (err instanceof HubError) return errorResponse(err);
    throw err;
  }
}
