import { DurableObject } from "cloudflare:workers";
import { readConfig, type StreamLimits } from "../config";
import type { Outcome } from "../errors";
import { discardBody } from "../http";
import { HEARTBEAT_TIMER } from "../hub/heartbeat";
import { type Timer, Timers } from "../hub/timers";
import { log } from "../log";
import { CloseCode } from "../protocol";
import type { StreamContext } from "../streams/context";
import { expiryOf, renewalDue } from "../streams/expiry";
import { copyRows, createFork, describeFork, type ForkBasis, type ForkRequest, type StreamSource } from "../streams/forks";
import { LiveReaders } from "../streams/live";
import { decodeOperation, OPERATION_HEADER, type ReadAccess, type StreamOperation } from "../streams/operation";
import { KeyedQueue } from "../streams/producers";
import { catchUp, head, longPoll } from "../streams/reads";
import { answer, fail, missing } from "../streams/responses";
import { openSse } from "../streams/sse-session";
import { type AppendRow, type StreamMeta, StreamStore } from "../streams/store";
import { StreamSockets } from "../streams/stream-sockets";
import { WriteBatch } from "../streams/write-batch";
import { appendToStream, createStream } from "../streams/writes";
import { refuseSocket } from "../websocket";

const EXPIRE_TIMER = "expire";
/** Retries telling a fork's source that the fork is gone, when the first try failed. */
const RELEASE_TIMER = "release";

/** A deleted stream whose storage is still to be erased (after its source, if any, is told). */
interface PendingErase {
  path: string;
  /** The source to release first, for a fork. */
  from?: string;
}

/**
 * One Durable Streams stream (`/v1/stream/<path>`): its bytes, producers and forks in
 * SQLite, its live readers in memory, and its expiry on the object's one alarm (through
 * the Timers table). The Worker has authenticated and validated every request; this
 * object checks what only the stream knows (offsets, Dovetail-Readers, closure, seqs).
 */
export class StreamHub extends DurableObject<Env> implements StreamContext {
  readonly store: StreamStore;
  readonly live = new LiveReaders((wake) => (wake === "gone" ? this.sockets.gone() : this.sockets.changed()));
  readonly limits: StreamLimits;
  readonly queue = new KeyedQueue();
  readonly writes = new WriteBatch();
  private readonly timers: Timers;
  /** Readers in live mode over hibernatable sockets (GET /v1/ws/stream/<path>). */
  private readonly sockets: StreamSockets;
  private pendingErase: PendingErase | null = null;
  private erasing: Promise<void> = Promise.resolve();
  /** Milliseconds since the epoch. Replaced in tests to move time without sleeping. */
  now: () => number = () => Date.now();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.limits = readConfig(env).streams;
    this.store = new StreamStore(ctx.storage);
    this.timers = new Timers(ctx.storage, ctx.storage.sql);
    this.sockets = new StreamSockets(ctx, env, this, readConfig(env), this.timers);
  }

  override async fetch(request: Request): Promise<Response> {
    const op = decodeOperation(request.headers.get(OPERATION_HEADER));
    if (!op) return fail("validation_failed", "not a stream operation");
    const response = await answer(() => this.perform(op, request));
    // A request refused before its body was read (404, 409, ...) still takes it in.
    if (!request.bodyUsed) await discardBody(request.body);
    await this.finishErase();
    return response;
  }

  private perform(op: StreamOperation, request: Request): Response | Promise<Response> {
    switch (op.op) {
      case "create":
        return this.queue.run("create", async () => {
          // A path deleted a moment ago is erased before it is created again.
          await this.finishErase();
          await this.erasing;
          const { spec } = op;
          return spec.fork
            ? createFork(this, request, op.path, op.url, { ...spec, fork: spec.fork })
            : createStream(this, request, op.path, op.url, spec);
        });
      case "append":
        return appendToStream(this, request, op.spec);
      case "read": {
        const refused = this.refuseReader(op.access);
        if (refused) return refused;
        if (op.spec.live === "sse") return openSse(this, op.spec, request.signal);
        return op.spec.live === "long-poll" ? longPoll(this, op.spec, request.signal) : catchUp(this, op.spec);
      }
      case "head":
        return this.refuseReader(op.access) ?? head(this);
      case "delete":
        return this.deleteStream();
      case "watch": {
        // Refused readers hear 4003 whether or not the stream exists, as over HTTP.
        if (this.refuseReader(op.access))
          return refuseSocket(CloseCode.Forbidden, "this stream is not readable with this token", op.spec.subprotocol);
        return this.sockets.accept(op.path, op.spec);
      }
    }
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    await this.sockets.message(ws, message);
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    this.sockets.closed(ws, code, reason);
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    this.sockets.closed(ws, CloseCode.Internal, "socket error");
  }

  /** Streams outside jobs/, users/ and rooms/ admit a client only through Dovetail-Readers. */
  private refuseReader(access: ReadAccess): Response | null {
    if (access.kind === "admitted") return null;
    const readers = this.current()?.readers;
    if (readers === "*" || readers?.includes(access.user)) return null;
    return fail("forbidden", "this stream is not readable with this token");
  }

  current(): StreamMeta | null {
    const meta = this.store.meta();
    if (!meta || meta.gone) return meta;
    const expiry = expiryOf(meta, this.limits.defaultTtlS);
    if (expiry === null || expiry > this.now()) return meta;
    log("stream.expired", { path: meta.path });
    return this.remove(meta);
  }

  touch(): void {
    const meta = this.store.meta();
    const now = this.now();
    if (!meta || !renewalDue(meta, now, this.limits.defaultTtlS)) return;
    this.store.update({ touchedAt: now });
    this.scheduleExpiry();
  }

  scheduleExpiry(): void {
    const meta = this.store.meta();
    const expiry = meta && !meta.gone ? expiryOf(meta, this.limits.defaultTtlS) : null;
    if (expiry === null) this.timers.clear(EXPIRE_TIMER);
    else this.timers.set(EXPIRE_TIMER, expiry);
  }

  async discard(): Promise<void> {
    await this.ctx.storage.deleteAll();
    this.store.forget();
    this.timers.forget();
  }

  source(path: string): StreamSource {
    return this.env.STREAM_HUB.getByName(path) as unknown as StreamSource;
  }

  private async deleteStream(): Promise<Response> {
    const meta = this.current();
    if (!meta || meta.gone) return missing(meta);
    this.remove(meta);
    await this.finishErase();
    return new Response(null, { status: 204 });
  }

  /**
   * DELETE or expiry. With living forks the stream becomes a 410 tombstone; otherwise its
   * data goes at once (404 from here on) and the object's storage is erased by
   * finishErase(), which runs after the current request or alarm, never mid-way.
   */
  private remove(meta: StreamMeta): StreamMeta | null {
    this.live.notify("gone");
    if (this.store.forkCount() > 0) {
      this.store.keepTombstone();
      this.timers.clear(EXPIRE_TIMER);
      return this.store.meta();
    }
    this.store.prepare();
    this.pendingErase = meta.fork ? { path: meta.path, from: meta.fork.from } : { path: meta.path };
    return null;
  }

  private async finishErase(): Promise<void> {
    const pending = this.pendingErase;
    if (!pending) return;
    this.pendingErase = null;
    this.erasing = (async () => {
      if (pending.from) {
        try {
          await this.source(pending.from).releaseFork(pending.path);
        } catch (err) {
          log("stream.release_failed", { path: pending.path, source: pending.from, error: String(err) });
          this.timers.set(RELEASE_TIMER, this.now(), pending);
          return;
        }
      }
      // A creation waits for this erase, so nothing new can live here yet.
      await this.discard();
    })();
    await this.erasing;
  }

  // --- RPC from the user's session registry (disconnect, revocation, re-counts) ---

  userSockets(userId: string): number {
    return this.sockets.session.countOf(userId);
  }

  closeUserSockets(userId: string, jti: string | null, code: CloseCode, reason: string): number {
    return this.sockets.session.closeUserSockets(userId, jti, code, reason);
  }

  // --- RPC from forks ---

  forkBasis(request: ForkRequest): Outcome<ForkBasis> {
    return describeFork(this, request);
  }

  forkRows(after: number, upTo: number): Outcome<AppendRow[]> {
    return copyRows(this, after, upTo);
  }

  /** A fork of this stream was deleted or expired; a tombstone with no forks left goes too. */
  async releaseFork(forkPath: string): Promise<void> {
    const meta = this.store.meta();
    if (!meta) return;
    if (this.store.removeFork(forkPath) === 0 && meta.gone) {
      this.store.prepare();
      this.pendingErase = meta.fork ? { path: meta.path, from: meta.fork.from } : { path: meta.path };
      await this.finishErase();
    }
  }

  override async alarm(): Promise<void> {
    if (!this.store.hasTables()) return;
    await this.timers.runDue(this.now(), (timer) => this.onTimer(timer));
    // Erasing drops the timers table too, so it waits until the timers have run.
    await this.finishErase();
  }

  private async onTimer(timer: Timer): Promise<void> {
    if (timer.name === HEARTBEAT_TIMER) {
      this.sockets.beat();
    } else if (timer.name === EXPIRE_TIMER) {
      // Expires the stream if its time has come; a renewed TTL just moves the timer.
      if (this.current()) this.scheduleExpiry();
    } else if (timer.name === RELEASE_TIMER) {
      const pending = timer.payload as PendingErase;
      // Throwing retries it later (Timers); once it succeeds only the erase is left.
      await this.source(pending.from as string).releaseFork(pending.path);
      if (!this.store.meta()) this.pendingErase = { path: pending.path };
    }
  }
}
