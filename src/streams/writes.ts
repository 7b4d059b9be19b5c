// PUT (create, idempotently) and POST (append, close) for streams that are not forks.
// Each request reads its body first; everything after that is synchronous SQL, so the
// checks (closed? Stream-Seq? producer epoch and seq?) and the write commit together,
// and the 2xx leaves only once the write is durable (output gate). Appends share their
// commits (WriteBatch).
import { HubError } from "../errors";
import { readBytes } from "../http";
import type { StreamContext } from "./context";
import { H, isJsonType, mediaType } from "./headers";
import { parseJsonAppend } from "./json-mode";
import { formatOffset } from "./offsets";
import type { AppendSpec, CreateSpec, ProducerClaim } from "./operation";
import { judgeProducer, type ProducerState } from "./producers";
import { emptyResponse, fail, missing, streamHeaders } from "./responses";
import type { StreamMeta } from "./store";

export const DEFAULT_CONTENT_TYPE = "application/octet-stream";
/** Producer state idle this long may be forgotten to make room for a new producer. */
const PRODUCER_IDLE_MS = 7 * 86_400_000;

export interface StoredBody {
  data: Uint8Array;
  messages: number;
}

/** A request body as it will be stored: raw bytes, or JSON mode's flattened messages. */
export async function readAppendBody(ctx: StreamContext, request: Request, json: boolean, isCreate: boolean): Promise<StoredBody> {
  const raw = await readBytes(request, ctx.limits.maxAppendBytes);
  if (!json || raw.byteLength === 0) return { data: raw, messages: raw.byteLength > 0 ? 1 : 0 };
  const parsed = parseJsonAppend(raw, isCreate);
  // Compact re-serialisation can grow a body ("1e5" is stored as "100000").
  if (parsed.data.byteLength > ctx.limits.maxAppendBytes)
    throw new HubError("payload_too_large", "append larger than the limit once stored");
  return parsed;
}

export function checkRoom(ctx: StreamContext, bytes: number): void {
  if (ctx.store.tail().pos + bytes > ctx.limits.maxStreamBytes) {
    throw new HubError("payload_too_large", `stream is full (STREAM_MAX_BYTES is ${ctx.limits.maxStreamBytes})`);
  }
}

/** Same configuration: a repeated PUT is a 200, a different one a 409. */
export function sameConfig(meta: StreamMeta, spec: CreateSpec): boolean {
  const type = spec.contentType ?? (spec.fork ? meta.contentType : DEFAULT_CONTENT_TYPE);
  if (mediaType(type) !== mediaType(meta.contentType)) return false;
  if (JSON.stringify(spec.readers ?? null) !== JSON.stringify(meta.readers)) return false;
  const fork = spec.fork;
  if (!fork !== !meta.fork) return false;
  if (fork && meta.fork) {
    if (fork.from !== meta.fork.from || fork.subOffset !== meta.fork.subOffset) return false;
    if (fork.offset && formatOffset(fork.offset) !== meta.fork.offset) return false;
    // A fork without its own expiry took its source's: only an explicit one is compared.
    if (spec.ttlS === undefined && spec.expiresAt === undefined) return true;
  }
  return (spec.ttlS ?? null) === meta.ttlS && (spec.expiresAt ?? null) === meta.expiresAt;
}

export function createdResponse(ctx: StreamContext, meta: StreamMeta, url: string, created: boolean): Response {
  const headers = streamHeaders(meta, ctx.store.tail());
  if (created) headers.set("Location", url);
  return new Response(null, { status: created ? 201 : 200, headers });
}

/** A PUT where a stream already lives: 200 for the same configuration, 409 otherwise. Null when none does. */
export function answerRepeatedCreate(ctx: StreamContext, url: string, spec: CreateSpec): Response | null {
  const existing = ctx.current();
  if (!existing) return null;
  if (existing.gone) return fail("conflict", "this path's stream was deleted but forks still reference it");
  return sameConfig(existing, spec)
    ? createdResponse(ctx, existing, url, false)
    : fail("conflict", "a stream exists here with another configuration");
}

export async function createStream(ctx: StreamContext, request: Request, path: string, url: string, spec: CreateSpec): Promise<Response> {
  const contentType = spec.contentType ?? DEFAULT_CONTENT_TYPE;
  const body = await readAppendBody(ctx, request, isJsonType(contentType), true);
  const repeated = answerRepeatedCreate(ctx, url, spec);
  if (repeated) return repeated;
  const now = ctx.now();
  ctx.store.prepare();
  checkRoom(ctx, body.data.byteLength);
  if (body.messages > 0) ctx.store.append(body.data, body.messages);
  ctx.store.publish({
    path,
    incarnation: crypto.randomUUID(),
    contentType,
    ttlS: spec.ttlS ?? null,
    expiresAt: spec.expiresAt ?? null,
    readers: spec.readers ?? null,
    fork: null,
    createdAt: now,
    touchedAt: now,
  });
  if (spec.closed) ctx.store.update({ closed: true });
  ctx.scheduleExpiry();
  return createdResponse(ctx, ctx.store.meta() as StreamMeta, url, true);
}

function producerHeaders(state: ProducerState): Record<string, string> {
  return { [H.producerEpoch]: String(state.epoch), [H.producerSeq]: String(state.lastSeq) };
}

/** The synchronous half of an append, once the body is in. */
function commitAppend(ctx: StreamContext, spec: AppendSpec, body: StoredBody): Response {
  const meta = ctx.current();
  if (!meta || meta.gone) return missing(meta);
  const closeOnly = body.data.byteLength === 0;
  if (closeOnly && !spec.closed) return fail("validation_failed", "an append needs a body (or Stream-Closed: true to close)");
  if (!closeOnly) {
    if (spec.contentType === null) return fail("validation_failed", "an append needs a Content-Type");
    if (mediaType(spec.contentType) !== mediaType(meta.contentType))
      return fail("conflict", `this stream's Content-Type is ${meta.contentType}`);
  }
  const claim: ProducerClaim | undefined = spec.producer;
  const verdict = claim ? judgeProducer(ctx.store.producer(claim.id), claim) : undefined;
  const tail = ctx.store.tail();
  if (verdict?.kind === "stale_epoch")
    return fail("forbidden", "a newer producer epoch exists", { [H.producerEpoch]: String(verdict.currentEpoch) });
  if (verdict?.kind === "bad_epoch_start") return fail("validation_failed", "a new producer epoch starts at Producer-Seq 0");
  if (verdict?.kind === "gap") {
    return fail("conflict", `Producer-Seq ${claim?.seq} skips ahead of ${verdict.expectedSeq}`, {
      [H.producerExpectedSeq]: String(verdict.expectedSeq),
      [H.producerReceivedSeq]: String(claim?.seq),
    });
  }
  if (verdict?.kind === "duplicate") return emptyResponse(204, streamHeaders(meta, tail, producerHeaders(verdict.state)));
  if (meta.closed) {
    // Closing again is a no-op; anything else on a closed stream is refused.
    if (closeOnly) return emptyResponse(204, streamHeaders(meta, tail));
    return fail("stream_closed", "stream is closed", { [H.closed]: "true", [H.nextOffset]: formatOffset(tail) });
  }
  if (spec.streamSeq !== undefined && meta.streamSeq !== null && spec.streamSeq <= meta.streamSeq) {
    return fail("conflict", `Stream-Seq must sort after ${meta.streamSeq}`);
  }
  checkRoom(ctx, body.data.byteLength);
  const now = ctx.now();
  if (claim && !ctx.store.producer(claim.id) && !ctx.store.hasRoomForProducer(ctx.limits.maxProducers, now - PRODUCER_IDLE_MS)) {
    return fail("rate_limited", `this stream has ${ctx.limits.maxProducers} producers already`, { "Retry-After": "60" });
  }
  const next = closeOnly ? tail : ctx.store.append(body.data, body.messages);
  if (claim && verdict?.kind === "accept") ctx.store.saveProducer(claim.id, verdict.state, now);
  ctx.store.update({
    ...(spec.streamSeq !== undefined ? { streamSeq: spec.streamSeq } : {}),
    ...(spec.closed ? { closed: true } : {}),
  });
  ctx.touch();
  ctx.live.notify();
  const extra = claim && verdict?.kind === "accept" ? producerHeaders(verdict.state) : {};
  // A producer's new data is a 200 (protocol 5.2.1); everything else a 204.
  return emptyResponse(claim && !closeOnly ? 200 : 204, streamHeaders(ctx.store.meta() as StreamMeta, next, extra));
}

export async function appendToStream(ctx: StreamContext, request: Request, spec: AppendSpec): Promise<Response> {
  const meta = ctx.current();
  if (!meta || meta.gone) return missing(meta);
  // A producer's appends take their places in the batch in seq order (the queue holds the
  // next one until this one's body is in); the commit itself is shared with the batch.
  const place = async () => {
    const body = await readAppendBody(ctx, request, meta.json, false);
    return { committed: ctx.writes.add(() => commitAppend(ctx, spec, body)) };
  };
  const { committed } = spec.producer ? await ctx.queue.run(`producer:${spec.producer.id}`, place) : await place();
  return committed;
}
