// Request headers and query parameters of the Durable Streams protocol, parsed into
// specs in the Worker. Every malformed value is a 400 here, before any object is touched.
import { HubError } from "../errors";
import { isValidId } from "../ids";
import { CURSOR_PATTERN, parseOffset, type ReadFrom } from "./offsets";
import type { AppendSpec, CreateSpec, ForkSpec, LiveMode, ProducerClaim, Readers, ReadSpec } from "./operation";
import { parseStreamUrlPath } from "./paths";

export const H = {
  nextOffset: "Stream-Next-Offset",
  upToDate: "Stream-Up-To-Date",
  cursor: "Stream-Cursor",
  closed: "Stream-Closed",
  ttl: "Stream-TTL",
  expiresAt: "Stream-Expires-At",
  seq: "Stream-Seq",
  sseEncoding: "Stream-SSE-Data-Encoding",
  forkedFrom: "Stream-Forked-From",
  forkOffset: "Stream-Fork-Offset",
  forkSubOffset: "Stream-Fork-Sub-Offset",
  producerId: "Producer-Id",
  producerEpoch: "Producer-Epoch",
  producerSeq: "Producer-Seq",
  producerExpectedSeq: "Producer-Expected-Seq",
  producerReceivedSeq: "Producer-Received-Seq",
  readers: "Dovetail-Readers",
} as const;

/** Ten years: longer is surely a unit mistake. */
const MAX_TTL_S = 315_360_000;
const MAX_READERS = 100;
const DECIMAL = /^(0|[1-9]\d*)$/;
// type/subtype with RFC 9110 token characters, optionally followed by parameters.
export const MEDIA_TYPE = /^[A-Za-z0-9!#$&^_.+-]+\/[A-Za-z0-9!#$&^_.+-]+\s*(;.*)?$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;
const VISIBLE_ASCII = /^[\x21-\x7e]+$/;

function invalid(header: string, message: string): HubError {
  return new HubError("validation_failed", message, [{ path: header, message }]);
}

/** "text/plain; charset=utf-8" -> "text/plain": streams match on the media type alone. */
export function mediaType(contentType: string): string {
  return (contentType.split(";")[0] as string).trim().toLowerCase();
}

export function isJsonType(contentType: string): boolean {
  return mediaType(contentType) === "application/json";
}

function contentTypeOf(headers: Headers): string | null {
  const value = headers.get("Content-Type")?.trim();
  if (value === undefined || value === "") return null;
  if (value.length > 256 || !MEDIA_TYPE.test(value)) throw invalid("Content-Type", "Content-Type is not a media type");
  return value;
}

function decimal(headers: Headers, name: string, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const raw = headers.get(name);
  if (raw === null) return undefined;
  if (!DECIMAL.test(raw) || raw.length > 16 || Number(raw) > max) {
    throw invalid(name, `${name} must be a decimal integer from 0 to ${max}, without sign, leading zeros or exponent`);
  }
  return Number(raw);
}

function closedFlag(headers: Headers): boolean {
  const raw = headers.get(H.closed);
  if (raw === null || raw.toLowerCase() === "false") return false;
  if (raw.toLowerCase() === "true") return true;
  throw invalid(H.closed, `${H.closed} must be true or false`);
}

function readers(headers: Headers): Readers | undefined {
  const raw = headers.get(H.readers);
  if (raw === null) return undefined;
  if (raw.trim() === "*") return "*";
  const ids = [...new Set(raw.split(",").map((s) => s.trim()))].sort();
  if (ids.length > MAX_READERS || !ids.every(isValidId)) {
    throw invalid(H.readers, `${H.readers} is "*" or up to ${MAX_READERS} comma-separated user ids`);
  }
  return ids;
}

function fork(headers: Headers): ForkSpec | undefined {
  const from = headers.get(H.forkedFrom);
  const offset = headers.get(H.forkOffset);
  const subOffset = decimal(headers, H.forkSubOffset);
  if (from === null) {
    if (offset !== null || subOffset !== undefined) throw invalid(H.forkedFrom, `fork headers need ${H.forkedFrom}`);
    return undefined;
  }
  const spec: ForkSpec = { from: parseStreamUrlPath(from).path, subOffset: subOffset ?? 0 };
  if (offset !== null) {
    const position = parseOffset(offset);
    if (!position) throw invalid(H.forkOffset, `${H.forkOffset} is not an offset of this hub`);
    spec.offset = position;
  }
  return spec;
}

/** PUT: create a stream (or a fork), idempotently. */
export function parseCreate(headers: Headers): CreateSpec {
  const spec: CreateSpec = { contentType: contentTypeOf(headers), closed: closedFlag(headers) };
  const ttlS = decimal(headers, H.ttl, MAX_TTL_S);
  const expires = headers.get(H.expiresAt);
  if (ttlS !== undefined && expires !== null) throw invalid(H.ttl, `send ${H.ttl} or ${H.expiresAt}, not both`);
  if (ttlS !== undefined) spec.ttlS = ttlS;
  if (expires !== null) {
    const at = RFC3339.test(expires) ? Date.parse(expires) : Number.NaN;
    if (Number.isNaN(at)) throw invalid(H.expiresAt, `${H.expiresAt} must be an RFC 3339 timestamp`);
    spec.expiresAt = at;
  }
  const granted = readers(headers);
  if (granted !== undefined) spec.readers = granted;
  const forkSpec = fork(headers);
  if (forkSpec) spec.fork = forkSpec;
  return spec;
}

function producer(headers: Headers): ProducerClaim | undefined {
  const id = headers.get(H.producerId);
  const epoch = decimal(headers, H.producerEpoch);
  const seq = decimal(headers, H.producerSeq);
  if (id === null && epoch === undefined && seq === undefined) return undefined;
  if (id === null || epoch === undefined || seq === undefined) {
    throw invalid(H.producerId, `${H.producerId}, ${H.producerEpoch} and ${H.producerSeq} go together`);
  }
  if (id.length > 256 || !VISIBLE_ASCII.test(id)) throw invalid(H.producerId, `${H.producerId} must be 1-256 visible ASCII characters`);
  return { id, epoch, seq };
}

/** POST: append, close, or both. Whether a close carries a body is known only from the body. */
export function parseAppend(headers: Headers): AppendSpec {
  const spec: AppendSpec = { contentType: contentTypeOf(headers), closed: closedFlag(headers) };
  const seq = headers.get(H.seq);
  if (seq !== null) {
    if (seq.length > 256 || !VISIBLE_ASCII.test(seq)) throw invalid(H.seq, `${H.seq} must be 1-256 visible ASCII characters`);
    spec.streamSeq = seq;
  }
  const claim = producer(headers);
  if (claim) spec.producer = claim;
  if (!spec.closed && spec.contentType === null) throw invalid("Content-Type", "an append needs a Content-Type");
  return spec;
}

function single(query: URLSearchParams, name: string): string | undefined {
  const values = query.getAll(name);
  if (values.length > 1) throw invalid(name, `${name} may be given once`);
  return values[0];
}

/** GET: offset, live mode and cursor; If-None-Match for catch-up revalidation. */
/** `offset`: -1 (also when absent), now, or an offset this hub gave out. Shared by HTTP reads and stream sockets. */
export function readFromQuery(query: URLSearchParams): ReadFrom {
  const offset = single(query, "offset");
  if (offset === undefined || offset === "-1") return { kind: "start" };
  if (offset === "now") return { kind: "now" };
  const position = parseOffset(offset);
  if (!position) throw invalid("offset", "offset is not -1, now, or an offset this hub gave out");
  return { kind: "at", position };
}

export function parseRead(query: URLSearchParams, headers: Headers): ReadSpec {
  const offset = single(query, "offset");
  const liveRaw = single(query, "live");
  const cursor = single(query, "cursor");
  const spec: ReadSpec = { from: readFromQuery(query) };
  if (liveRaw !== undefined) {
    if (liveRaw !== "long-poll" && liveRaw !== "sse") throw invalid("live", "live is long-poll or sse");
    if (offset === undefined) throw invalid("offset", "live reads need an offset (-1 for the start)");
    spec.live = liveRaw as LiveMode;
  }
  if (cursor !== undefined) {
    if (!CURSOR_PATTERN.test(cursor)) throw invalid("cursor", "cursor must be the Stream-Cursor a response gave");
    spec.cursor = cursor;
  }
  const etag = headers.get("If-None-Match");
  if (etag !== null && etag.length <= 512) spec.ifNoneMatch = etag;
  return spec;
}
