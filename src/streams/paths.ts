// Stream paths (/v1/stream/<path>): checked in the Worker, before any object is touched.
import { kindByPlural } from "../channel-kinds";
import { HubError } from "../errors";
import { isValidId } from "../ids";

export const STREAM_ROUTE_PREFIX = "/v1/stream/";
export const MAX_PATH_BYTES = 512;
export const MAX_PATH_DEPTH = 8;

// Unreserved URL characters only, so a path needs no percent-encoding and reads the same
// in logs, object names and Stream-Forked-From.
const SEGMENT = /^[A-Za-z0-9._~-]+$/;

/**
 * Who may read a stream is decided by its first segments: `jobs/<id>/...`,
 * `users/<id>/...` and `rooms/<id>/...` follow the channel's own rules; any other path
 * is "granted": producers only, unless the producer created it with `Dovetail-Readers`.
 */
export type ScopeKind = "job" | "user" | "room";
export type StreamScope = { kind: ScopeKind; id: string } | { kind: "granted" };

/** The channel kinds whose streams follow the channel's rules (batches/ paths are plain paths). */
const SCOPE_KINDS: ReadonlySet<string> = new Set<ScopeKind>(["job", "user", "room"]);

/** "jobs" -> "job", by the channel-kind registry's plurals; undefined for any other segment. */
function scopeKindOf(segment: string): ScopeKind | undefined {
  const kind = kindByPlural(segment)?.kind;
  return kind !== undefined && SCOPE_KINDS.has(kind) ? (kind as ScopeKind) : undefined;
}

export interface StreamPath {
  /** "jobs/42/output": also the Durable Object's name. */
  path: string;
  scope: StreamScope;
}

function invalid(message: string): HubError {
  return new HubError("validation_failed", message, [{ path: "path", message }]);
}

/** `raw` is what follows /v1/stream/ in the request's (still percent-encoded) URL path. */
export function parseStreamPath(raw: string): StreamPath {
  if (raw.length === 0) throw invalid("stream path is empty");
  if (raw.length > MAX_PATH_BYTES) throw invalid(`stream path is longer than ${MAX_PATH_BYTES} bytes`);
  const segments = raw.split("/");
  if (segments.length > MAX_PATH_DEPTH) throw invalid(`stream path is deeper than ${MAX_PATH_DEPTH} segments`);
  const scopeKind = scopeKindOf(segments[0] as string);
  segments.forEach((segment, index) => {
    if (segment === "." || segment === "..") throw invalid("stream path segments may not be . or ..");
    // The segment naming a channel holds a channel id, whose alphabet adds ":" (room "campaign:7").
    const ok = scopeKind && index === 1 ? isValidId(segment) : SEGMENT.test(segment);
    if (!ok) throw invalid("stream path segments are 1 or more of A-Z a-z 0-9 . _ ~ - (no empty segment)");
  });
  if (!scopeKind) return { path: raw, scope: { kind: "granted" } };
  if (segments.length < 2) throw invalid(`a ${segments[0]}/ stream path names the ${scopeKind} id next`);
  return { path: raw, scope: { kind: scopeKind, id: segments[1] as string } };
}

/** Stream-Forked-From names the source by its URL path, "/v1/stream/<path>". */
export function parseStreamUrlPath(value: string): StreamPath {
  if (!value.startsWith(STREAM_ROUTE_PREFIX)) throw invalid(`Stream-Forked-From must be a path starting with ${STREAM_ROUTE_PREFIX}`);
  return parseStreamPath(value.slice(STREAM_ROUTE_PREFIX.length));
}
