// live=sse: one response body per reader, fed from SQLite. Every data event is followed
// by its control event (so each batch stands alone: JSON parses, base64 decodes), the
// reader wakes on each append or close, and the response ends after the closing control
// event, on delete, or after STREAM_SSE_MAX_S so the client reconnects from its offset.
import { concatBytes } from "../bytes";
import { log } from "../log";
import { READ_BUDGET_BYTES, type StreamContext } from "./context";
import { H } from "./headers";
import { jsonArray } from "./json-mode";
import { formatOffset, nextCursor, type Position, samePosition } from "./offsets";
import type { ReadSpec } from "./operation";
import { startOf } from "./reads";
import { fail, missing } from "./responses";
import { type ControlFields, controlEvent, dataEvent, type SseEncoding, sseEncodingFor } from "./sse-events";

export function openSse(ctx: StreamContext, spec: ReadSpec, signal?: AbortSignal): Response {
  const meta = ctx.current();
  if (!meta || meta.gone) return missing(meta);
  const from = startOf(ctx, spec.from);
  if (!ctx.live.enter(ctx.limits.maxLiveReaders)) {
    return fail("rate_limited", `this stream has ${ctx.limits.maxLiveReaders} live readers already`, { "Retry-After": "1" });
  }
  ctx.touch();
  const encoding = sseEncodingFor(meta.contentType);
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
  const cursor = nextCursor(ctx.now(), spec.cursor);
  pump(ctx, writable.getWriter(), { start: from, encoding, cursor, signal }).finally(() => ctx.live.leave());
  const headers = new Headers({ "Content-Type": "text/event-stream", "Cache-Control": "no-cache" });
  if (encoding === "base64") headers.set(H.sseEncoding, "base64");
  return new Response(readable, { status: 200, headers });
}

interface Session {
  start: Position;
  encoding: SseEncoding;
  cursor: string;
  /** Aborts when the reader disconnects, so an idle session does not hold its slot. */
  signal: AbortSignal | undefined;
}

async function pump(ctx: StreamContext, writer: WritableStreamDefaultWriter<Uint8Array>, session: Session): Promise<void> {
  const { start, encoding, cursor, signal } = session;
  const encoder = new TextEncoder();
  const send = (text: string) => writer.write(encoder.encode(text));
  const deadline = ctx.now() + ctx.limits.sseMaxMs;
  let position = start;
  // The first control event says where the reader stands even when there is no data yet.
  let announced = false;
  try {
    for (;;) {
      const meta = ctx.current();
      if (!meta || meta.gone) break;
      const tail = ctx.store.tail();
      if (!samePosition(position, tail)) {
        const { rows, next } = ctx.store.readFrom(position, READ_BUDGET_BYTES);
        const parts = rows.map((r) => r.data);
        const control: ControlFields = { streamNextOffset: formatOffset(next), streamCursor: cursor };
        if (samePosition(next, tail)) control.upToDate = true;
        await send(dataEvent(meta.json ? jsonArray(parts) : concatBytes(parts), encoding) + controlEvent(control));
        position = next;
        announced = true;
        continue;
      }
      if (meta.closed) {
        await send(controlEvent({ streamNextOffset: formatOffset(position), upToDate: true, streamClosed: true }));
        break;
      }
      if (!announced) {
        await send(controlEvent({ streamNextOffset: formatOffset(position), streamCursor: cursor, upToDate: true }));
        announced = true;
      }
      const wake = await ctx.live.wait(deadline - ctx.now(), signal);
      if (wake !== "changed") break;
    }
  } catch (err) {
    // The reader went away: writes fail once its end of the stream is cancelled.
    log("stream.sse_ended", { reason: String(err) });
  } finally {
    await writer.close().catch(() => {});
  }
}
