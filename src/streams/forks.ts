// Forks (Stream-Forked-From): a new stream that starts with a prefix of another. The
// fork copies that prefix into its own object, with the same append numbers, so its
// reads never hop to the source and an offset means the same position in both. The
// source still counts its living forks: deleting (or expiring) a source with forks leaves
// a 410 tombstone that blocks re-creation of its path, and the last fork to go removes it.
import { fail as failed, HubError, type Outcome, ok } from "../errors";
import { readBytes } from "../http";
import type { StreamContext } from "./context";
import { isJsonType, mediaType } from "./headers";
import { firstMessages, parseJsonAppend } from "./json-mode";
import { formatOffset, type Position } from "./offsets";
import type { CreateSpec, ForkSpec } from "./operation";
import { errorResponse, fail } from "./responses";
import type { AppendRow, StreamMeta } from "./store";
import { answerRepeatedCreate, checkRoom, createdResponse, type StoredBody } from "./writes";

export interface ForkRequest {
  forkPath: string;
  offset?: Position;
  subOffset: number;
  /** The fork's requested media type; null inherits the source's. */
  mediaType: string | null;
}

export interface ForkBasis {
  contentType: string;
  ttlS: number | null;
  expiresAt: number | null;
  anchor: Position;
  /** The first bytes (or JSON messages) of the append after the anchor, for a sub-offset. */
  partial: { data: Uint8Array; messages: number } | null;
}

/** The RPC surface a fork calls on its source's StreamHub. */
export interface StreamSource {
  forkBasis(request: ForkRequest): Promise<Outcome<ForkBasis>>;
  forkRows(after: number, upTo: number): Promise<Outcome<AppendRow[]>>;
  releaseFork(forkPath: string): Promise<void>;
}

/** Rows per copy call stay well under the RPC message limit. */
const COPY_PAGE_BYTES = 4 * 1_048_576;

/** Source side: validates the fork point and records the fork before any copying. */
export function describeFork(ctx: StreamContext, request: ForkRequest): Outcome<ForkBasis> {
  const meta = ctx.current();
  if (!meta) return failed("not_found", "source stream not found");
  if (meta.gone) return failed("conflict", "source stream was deleted");
  if (request.mediaType !== null && request.mediaType !== mediaType(meta.contentType)) {
    return failed("conflict", `the source's Content-Type is ${meta.contentType}`);
  }
  const anchor = request.offset ?? ctx.store.tail();
  if (!ctx.store.isBoundary(anchor)) return failed("validation_failed", "Stream-Fork-Offset is not a position in the source");
  let partial: ForkBasis["partial"] = null;
  if (request.subOffset > 0) {
    const next = ctx.store.readFrom(anchor, 0).rows[0];
    const room = next ? (meta.json ? next.messages : next.data.byteLength) : 0;
    if (!next || request.subOffset > room) return failed("validation_failed", "Stream-Fork-Sub-Offset reaches past the next append");
    partial = meta.json
      ? { data: firstMessages(next.data, request.subOffset), messages: request.subOffset }
      : { data: next.data.slice(0, request.subOffset), messages: 1 };
  }
  ctx.touch();
  ctx.store.addFork(request.forkPath);
  return ok({ contentType: meta.contentType, ttlS: meta.ttlS, expiresAt: meta.expiresAt, anchor, partial });
}

/** Source side: appends after `after` up to and including `upTo`, one page at a time. */
export function copyRows(ctx: StreamContext, after: number, upTo: number): Outcome<AppendRow[]> {
  const meta = ctx.current();
  if (!meta || meta.gone) return failed("conflict", "source stream was deleted during the fork");
  return ok(ctx.store.readFrom({ seq: after, pos: 0 }, COPY_PAGE_BYTES).rows.filter((r) => r.seq <= upTo));
}

function inheritedLifetime(spec: CreateSpec, basis: ForkBasis): { ttlS: number | null; expiresAt: number | null } {
  if (spec.ttlS !== undefined || spec.expiresAt !== undefined) return { ttlS: spec.ttlS ?? null, expiresAt: spec.expiresAt ?? null };
  return { ttlS: basis.ttlS, expiresAt: basis.expiresAt };
}

async function copyPrefix(ctx: StreamContext, from: string, anchor: Position): Promise<void> {
  for (let after = 0; after < anchor.seq; ) {
    const page = await ctx.source(from).forkRows(after, anchor.seq);
    if (!page.ok) throw HubError.from(page.error);
    const last = page.value.at(-1);
    if (!last) throw new HubError("internal", "source stream ended before the fork offset");
    ctx.store.copy(page.value);
    after = last.seq;
  }
}

function storedBody(raw: Uint8Array, contentType: string): StoredBody {
  if (raw.byteLength === 0) return { data: raw, messages: 0 };
  return isJsonType(contentType) ? parseJsonAppend(raw, true) : { data: raw, messages: 1 };
}

/** Target side: PUT with Stream-Forked-From. Creations are serialised by the caller. */
export async function createFork(
  ctx: StreamContext,
  request: Request,
  path: string,
  url: string,
  spec: CreateSpec & { fork: ForkSpec },
): Promise<Response> {
  const raw = await readBytes(request, ctx.limits.maxAppendBytes);
  const repeated = answerRepeatedCreate(ctx, url, spec);
  if (repeated) return repeated;
  if (spec.fork.from === path) return fail("validation_failed", "a stream cannot fork itself");
  const source = ctx.source(spec.fork.from);
  const described = await source.forkBasis({
    forkPath: path,
    ...(spec.fork.offset ? { offset: spec.fork.offset } : {}),
    subOffset: spec.fork.subOffset,
    mediaType: spec.contentType === null ? null : mediaType(spec.contentType),
  });
  if (!described.ok) return errorResponse(HubError.from(described.error));
  const basis = described.value;
  try {
    const contentType = spec.contentType ?? basis.contentType;
    const body = storedBody(raw, contentType);
    ctx.store.prepare();
    await copyPrefix(ctx, spec.fork.from, basis.anchor);
    if (basis.partial) ctx.store.append(basis.partial.data, basis.partial.messages);
    checkRoom(ctx, body.data.byteLength);
    if (body.messages > 0) ctx.store.append(body.data, body.messages);
    const now = ctx.now();
    ctx.store.publish({
      path,
      incarnation: crypto.randomUUID(),
      contentType,
      ...inheritedLifetime(spec, basis),
      readers: spec.readers ?? null,
      fork: { from: spec.fork.from, offset: formatOffset(basis.anchor), subOffset: spec.fork.subOffset },
      createdAt: now,
      touchedAt: now,
    });
    if (spec.closed) ctx.store.update({ closed: true });
    ctx.scheduleExpiry();
    return createdResponse(ctx, ctx.store.meta() as StreamMeta, url, true);
  } catch (err) {
    // Nothing half-made stays behind, and the source does not keep a reference for it.
    await ctx.discard();
    await source.releaseFork(path);
    if (err instanceof HubError) return errorResponse(err);
    throw err;
  }
}
