// Live mode for Durable Streams over a socket: GET /v1/ws/stream/<path>?offset=<o>
// (docs/protocol.md#stream-sockets). Offsets are the stream's own (Stream-Next-Offset).
import type { Json, UserRef } from "./wire.js";

/** The socket route's prefix; the stream path follows. */
export const STREAM_SOCKET_PREFIX = "/v1/ws/stream/";

export const StreamFrame = {
  Data: "stream:data",
  Closed: "stream:closed",
} as const;

/**
 * How a stream's bytes travel in `stream:data`: text streams (`text/*`) as a string,
 * JSON-mode streams (`application/json`) as the messages, anything else as base64.
 */
export type StreamEncoding = "text" | "json" | "base64";

/** `data` of a stream socket's first frame. */
export interface StreamConnectedData {
  connection_id: string;
  user: UserRef;
  /** Where this socket reads from: the `offset` asked for, resolved (`-1` and `now` become offsets). */
  offset: string;
  /** The stream's tail when the socket joined. */
  next_offset: string;
  closed: boolean;
  content_type: string;
  encoding: StreamEncoding;
  heartbeat_ms: number;
}

/**
 * Bytes from `offset` to `next_offset`. A frame carries at most 64 KiB of data; a single
 * append larger than that comes in several frames with the same offsets, all but the
 * last marked `partial`: apply them together, when the last arrives, and resume from
 * `next_offset` only after it.
 */
export interface StreamData {
  offset: string;
  next_offset: string;
  /** A string (text), the messages (JSON mode), or base64 (binary). */
  data: string | Json[];
  encoding?: "base64";
  partial?: true;
}

/** The stream is closed and this socket has everything; the socket closes with 1000 next. */
export interface StreamClosedData {
  next_offset: string;
}

export interface StreamEvents {
  "stream:data": StreamData;
  "stream:closed": StreamClosedData;
}
