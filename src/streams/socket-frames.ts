// Pure: a stream's appends turned into `stream:data` frames for its sockets. Frames begin
// and end on append boundaries (the only offsets a reader may resume from), carry at most
// MAX_FRAME_DATA_BYTES, and, for text, never end inside a UTF-8 sequence: an append that
// splits a character waits for the append that completes it, so a string is always whole.
import { concatBytes, toBase64 } from "../bytes";
import { type StreamEncoding, StreamFrame } from "../protocol";
import { isJsonType, mediaType } from "./headers";
import { formatOffset, type Position } from "./offsets";
import type { AppendRow } from "./store";

/** Data per frame: what a socket whose bufferedAmount cannot be read is sent at once. */
export const MAX_FRAME_DATA_BYTES = 65_536;
/** Raw bytes per base64 frame: a multiple of 3 that encodes to MAX_FRAME_DATA_BYTES. */
const BASE64_RAW_BYTES = (MAX_FRAME_DATA_BYTES / 4) * 3;

const decoder = new TextDecoder();

export function encodingOf(contentType: string): StreamEncoding {
  if (isJsonType(contentType)) return "json";
  return mediaType(contentType).startsWith("text/") ? "text" : "base64";
}

/** Length of the longest prefix of `bytes` that does not end inside a UTF-8 sequence. */
export function completeUtf8Length(bytes: Uint8Array): number {
  let lead = bytes.length - 1;
  while (lead >= 0 && bytes.length - lead < 4 && ((bytes[lead] as number) & 0xc0) === 0x80) lead -= 1;
  if (lead < 0) return bytes.length;
  const b = bytes[lead] as number;
  const need = b < 0x80 ? 1 : (b & 0xe0) === 0xc0 ? 2 : (b & 0xf0) === 0xe0 ? 3 : (b & 0xf8) === 0xf0 ? 4 : 1;
  return bytes.length - lead >= need ? bytes.length : lead;
}

export interface FrameBatch {
  frames: string[];
  /** Where the socket stands after these frames: the end of the last one, or `from`. */
  next: Position;
}

/** One frame's data, already JSON: a string, an array of messages, or base64. */
function dataJson(encoding: StreamEncoding, bytes: Uint8Array, rows: number): string {
  if (encoding === "json") return rows === 0 ? "[]" : `[${decoder.decode(bytes)}]`;
  return JSON.stringify(encoding === "text" ? decoder.decode(bytes) : toBase64(bytes));
}

function frame(ts: string, from: Position, to: Position, data: string, encoding: StreamEncoding, partial: boolean): string {
  const extra = `${encoding === "base64" ? ',"encoding":"base64"' : ""}${partial ? ',"partial":true' : ""}`;
  return `{"type":"${StreamFrame.Data}","ts":"${ts}","data":{"offset":"${formatOffset(from)}","next_offset":"${formatOffset(to)}","data":${data}${extra}}}`;
}

/** The pieces of one append too large for a frame, each at most MAX_FRAME_DATA_BYTES of data. */
function splitAppend(encoding: StreamEncoding, data: Uint8Array): string[] {
  const pieces: string[] = [];
  if (encoding === "json") {
    // Rows hold whole messages joined by ","; a piece holds whole messages (one at least).
    let batch: string[] = [];
    let size = 0;
    for (const message of JSON.parse(`[${decoder.decode(data)}]`) as unknown[]) {
      const text = JSON.stringify(message);
      if (batch.length > 0 && size + text.length > MAX_FRAME_DATA_BYTES) {
        pieces.push(`[${batch.join(",")}]`);
        batch = [];
        size = 0;
      }
      batch.push(text);
      size += text.length + 1;
    }
    if (batch.length > 0) pieces.push(`[${batch.join(",")}]`);
    return pieces;
  }
  for (let at = 0; at < data.byteLength; ) {
    const limit = encoding === "base64" ? BASE64_RAW_BYTES : MAX_FRAME_DATA_BYTES;
    let end = Math.min(data.byteLength, at + limit);
    if (encoding === "text" && end < data.byteLength) end = at + Math.max(1, completeUtf8Length(data.subarray(at, end)));
    pieces.push(dataJson(encoding, data.subarray(at, end), 1));
    at = end;
  }
  return pieces;
}

/**
 * Frames for `rows` (the appends after `from`, in order). `final`: the stream is closed
 * and these rows end it, so text cut inside a character goes out as it is (it will never
 * be completed).
 */
export function framesFor(encoding: StreamEncoding, from: Position, rows: readonly AppendRow[], ts: string, final: boolean): FrameBatch {
  const frames: string[] = [];
  let start = from;
  let pending: AppendRow[] = [];
  let size = 0;
  let next = from;
  const emit = (upTo: number) => {
    const taken = pending.slice(0, upTo);
    pending = pending.slice(upTo);
    size = pending.reduce((n, r) => n + r.data.byteLength, 0);
    const end = taken[taken.length - 1] as AppendRow;
    const to = { seq: end.seq, pos: end.endPos };
    const bytes =
      encoding === "json"
        ? concatBytes(taken.flatMap((r, i) => (i > 0 ? [COMMA, r.data] : [r.data])))
        : concatBytes(taken.map((r) => r.data));
    if (bytes.byteLength > (encoding === "base64" ? BASE64_RAW_BYTES : MAX_FRAME_DATA_BYTES)) {
      const pieces = splitAppend(encoding, bytes);
      for (const [i, piece] of pieces.entries()) frames.push(frame(ts, start, to, piece, encoding, i < pieces.length - 1));
    } else frames.push(frame(ts, start, to, dataJson(encoding, bytes, taken.length), encoding, false));
    start = to;
    next = to;
  };
  // Where the pending rows may end a frame: every row in JSON and binary; in text, a row
  // after which the bytes since `start` are whole characters.
  let lastCut = 0;
  for (const row of rows) {
    if (pending.length > 0 && size + row.data.byteLength > MAX_FRAME_DATA_BYTES && lastCut > 0) {
      emit(lastCut);
      lastCut = 0;
      // What is left pending ends inside a character; whether it still does is checked below.
    }
    pending.push(row);
    size += row.data.byteLength;
    if (encoding !== "text" || cutsCleanly(pending)) lastCut = pending.length;
  }
  if (final && pending.length > 0) lastCut = pending.length;
  if (lastCut > 0) emit(lastCut);
  return { frames, next };
}

const COMMA = new TextEncoder().encode(",");

/** Whether the pending rows (which start on a character boundary) end on one too. */
function cutsCleanly(pending: readonly AppendRow[]): boolean {
  // Only the last three bytes can start an unfinished sequence; gather them across rows.
  const tail: number[] = [];
  for (let i = pending.length - 1; i >= 0 && tail.length < 4; i--) {
    const data = (pending[i] as AppendRow).data;
    for (let j = data.byteLength - 1; j >= 0 && tail.length < 4; j--) tail.unshift(data[j] as number);
  }
  const bytes = Uint8Array.from(tail);
  return completeUtf8Length(bytes) === bytes.length;
}

/** `stream:closed`: the socket has everything a closed stream holds. */
export function closedFrame(ts: string, at: Position): string {
  return `{"type":"${StreamFrame.Closed}","ts":"${ts}","data":{"next_offset":"${formatOffset(at)}"}}`;
}
