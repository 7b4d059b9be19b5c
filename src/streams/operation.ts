// What the Worker asks a StreamHub to do, once it has authenticated the caller and
// validated every header and parameter. It travels as one header on the forwarded
// request, so the request body can stream straight through to the object.
import type { Identity } from "../auth/jwt";
import type { Position, ReadFrom } from "./offsets";

export interface ProducerClaim {
  id: string;
  epoch: number;
  seq: number;
}

/** `"*"`: anyone signed in. A list: those user ids. Only for streams outside jobs/, users/, rooms/. */
export type Readers = "*" | string[];

export interface ForkSpec {
  /** The source's stream path ("chats/1"), not its URL. */
  from: string;
  /** Absent: the source's tail when the fork is made. */
  offset?: Position;
  /** Bytes (or, in JSON mode, messages) of the source's next append that the fork also takes. */
  subOffset: number;
}

export interface CreateSpec {
  /** Null: application/octet-stream, or the source's type for a fork. */
  contentType: string | null;
  ttlS?: number;
  /** Epoch milliseconds. */
  expiresAt?: number;
  closed: boolean;
  readers?: Readers;
  fork?: ForkSpec;
}

export interface AppendSpec {
  /** Null only for a close without a body. */
  contentType: string | null;
  closed: boolean;
  streamSeq?: string;
  producer?: ProducerClaim;
}

export type LiveMode = "long-poll" | "sse";

/**
 * Who is reading: a producer or a client the Worker already admitted by the path's
 * channel ("admitted"), or a client whose right to read only the stream knows (its
 * Dovetail-Readers list).
 */
export type ReadAccess = { kind: "admitted" } | { kind: "reader"; user: string };

export interface ReadSpec {
  from: ReadFrom;
  live?: LiveMode;
  cursor?: string;
  ifNoneMatch?: string;
}

/** A socket in live mode (GET /v1/ws/stream/<path>), authenticated by the Worker. */
export interface WatchSpec {
  from: ReadFrom;
  identity: Identity;
  /** Echo the dovetail.v1 subprotocol. */
  subprotocol: boolean;
}

export type StreamOperation =
  | { op: "create"; path: string; url: string; spec: CreateSpec }
  | { op: "append"; path: string; spec: AppendSpec }
  | { op: "read"; path: string; access: ReadAccess; spec: ReadSpec }
  | { op: "head"; path: string; access: ReadAccess }
  | { op: "delete"; path: string }
  | { op: "watch"; path: string; access: ReadAccess; spec: WatchSpec };

export const OPERATION_HEADER = "x-dovetail-stream-op";

/** Header values must be Latin-1; a JSON string may not be, so it is URI-encoded. */
export function encodeOperation(operation: StreamOperation): string {
  return encodeURIComponent(JSON.stringify(operation));
}

/**
 * The request a StreamHub takes for `operation`: the Worker's forward of a client's
 * request, and a hub's own calls (a job creating, closing and deleting its output).
 */
export function operationRequest(operation: StreamOperation, body: ReadableStream<Uint8Array> | null = null): Request {
  const headers: Record<string, string> = { [OPERATION_HEADER]: encodeOperation(operation) };
  if (operation.op === "watch") headers.Upgrade = "websocket";
  return new Request(`https://stream.internal/${operation.path}`, { method: body ? "POST" : "GET", headers, body });
}

export function decodeOperation(header: string | null): StreamOperation | null {
  if (!header) return null;
  try {
    return JSON.parse(decodeURIComponent(header)) as StreamOperation;
  } catch {
    return null;
  }
}
