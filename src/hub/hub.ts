import { DurableObject } from "cloudflare:workers";
import * as v from "valibot";
import type { Identity } from "../auth/jwt";
import { type HubConfig, readConfig } from "../config";
import { HubError } from "../errors";
import { newId } from "../ids";
import { log } from "../log";
import {
  CloseCode,
  type ConnectedData,
  HEARTBEAT_FRAME,
  type HeartbeatData,
  PING_FRAME,
  PONG_FRAME,
  type ServerFrame,
  type UserRef,
} from "../protocol";
import { closeQuietly, upgradeHeaders } from "../sockets";
import { ChannelCounters, type ChannelStats, COUNTER_SCHEMA } from "./counters";
import { EVENT_LOG_SCHEMA, EventLog, type LoggedEvent } from "./event-log";
import { FrameRateLimiter } from "./frame-rate";
import { ClientEnvelope } from "./frames";
import { HEARTBEAT_TIMER, judge, type Liveness, REAP_AFTER_INTERVALS } from "./heartbeat";
import { migrate } from "./schema";
import { TIMERS_SCHEMA, type Timer, Timers } from "./timers";

/** What the Worker tells a hub about a socket it has already authenticated. */
export interface ConnectRequest {
  channel: string;
  identity: Identity;
  since?: number;
  epoch?: string;
  subprotocol: boolean;
}
export const CONNECT_HEADER = "x-dovetail-connect";

/** Kept on each socket with serializeAttachment, so it survives hibernation (16 KiB max). */
export interface Attachment extends Liveness {
  cid: string;
  user: UserRef;
  at: number;
  /** Set when the hub closed this socket itself, so its leave is not handled twice. */
  left?: true;
}

const TRIM_TIMER = "trim";
/** Flushes counter deltas held back by coalescing, so a burst followed by quiet is still counted. */
const STATS_TIMER = "stats";

export interface Refusal {
  code: CloseCode;
  reason: string;
}

export interface ComponentSchema {
  component: string;
  steps: readonly string[];
}

/**
 * What every channel does, whatever its kind: hibernatable sockets with an attachment,
 * the event log with resume, the ping auto-response, and a close handler that always
 * answers. Subclasses say who may join, what the snapshot is, and which client frames
 * they accept.
 */
export abstract class Hub<Snapshot = unknown> extends DurableObject<Env> {
  protected readonly config: HubConfig;
  protected readonly sql: SqlStorage;
  protected readonly log: EventLog;
  private readonly frameRate: FrameRateLimiter;
  protected readonly counters: ChannelCounters;
  private channelName: string | undefined;
  protected readonly timers: Timers;
  /** Milliseconds since the epoch. Replaced in tests to move time without sleeping. */
  now: () => number = () => Date.now();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.config = readConfig(env);
    this.sql = ctx.storage.sql;
    // SQL is synchronous, so migrating here completes before any request is delivered.
    this.migrateAll();
    this.log = new EventLog(this.sql, this.retention());
    this.timers = new Timers(ctx.storage, this.sql);
    this.frameRate = new FrameRateLimiter(this.config.frameRate);
    this.counters = new ChannelCounters(this.sql, () => this.channel !== "");
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING_FRAME, PONG_FRAME));
  }

  private migrateAll(): void {
    migrate(this.ctx.storage, "hub", EVENT_LOG_SCHEMA);
    migrate(this.ctx.storage, "timers", TIMERS_SCHEMA);
    migrate(this.ctx.storage, "counters", COUNTER_SCHEMA);
    const own = this.schema();
    migrate(this.ctx.storage, own.component, own.steps);
  }

  protected abstract schema(): ComponentSchema;
  /** Null admits the socket; a refusal closes it with that code. `channel` is "room:42". */
  protected abstract admit(identity: Identity, channel: string): Refusal | null;
  /** How many events the log keeps. Called from the constructor: use only `this.config`. */
  protected retention(): number {
    return this.config.logRetention;
  }
  protected abstract snapshot(identity: Identity): Snapshot;

  /** Handles a parsed client frame. Throw HubError to answer with an `error` frame. */
  protected onClientFrame(_ws: WebSocket, _from: Attachment, frame: ClientEnvelope & Record<string, unknown>): void | Promise<void> {
    throw new HubError("validation_failed", `unknown frame type "${frame.type}"`);
  }
  protected onJoin(_ws: WebSocket, _who: Attachment, _identity: Identity): void {}
  protected onLeave(_ws: WebSocket, _who: Attachment): void {}
  /** A due timer the base does not own (stages, watchdog, expiry, ...). */
  protected onTimer(timer: Timer): void | Promise<void> {
    log("timer.unknown", { channel: this.channel, name: timer.name });
  }
  /** After wipe(): drop whatever the subclass cached from storage. */
  protected onWiped(): void {}
  /**
   * How long logged events are kept, in ms, or null for "by count only". Defaults to
   * LOG_MAX_AGE_S; a hub whose events go stale sooner (rooms, users) overrides it.
   */
  protected logMaxAgeMs(): number | null {
    return this.config.logMaxAgeMs;
  }

  /** The channel this object serves ("job:42"), remembered from its first write. */
  protected get channel(): string {
    // Cached: it is read on every frame, and it changes only on bind and on wipe.
    this.channelName ??= this.log.readMeta("channel") ?? "";
    return this.channelName;
  }

  protected bindChannel(channel: string): void {
    if (this.channel !== channel) this.log.writeMeta("channel", channel);
    this.channelName = channel;
  }

  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
      return Response.json({ error: { code: "upgrade_required", message: "expected a WebSocket upgrade" } }, { status: 426 });
    }
    const header = request.headers.get(CONNECT_HEADER);
    const connect = header ? (JSON.parse(decodeURIComponent(header)) as ConnectRequest) : null;
    if (!connect) return Response.json({ error: { code: "internal", message: "missing connect request" } }, { status: 500 });
    return this.acceptConnection(connect);
  }

  private acceptConnection(req: ConnectRequest): Response {
    const { 0: client, 1: server } = new WebSocketPair();
    const refusal = this.admit(req.identity, req.channel);
    if (refusal) {
      server.accept();
      closeQuietly(server, refusal.code, refusal.reason);
      this.counters.add("refusals");
      this.reportStats();
      log("socket.refused", { channel: req.channel, user: req.identity.id, code: refusal.code, reason: refusal.reason });
      return new Response(null, { status: 101, webSocket: client, headers: upgradeHeaders(req.subprotocol) });
    }
    this.bindChannel(req.channel);
    const user: UserRef = req.identity.name ? { id: req.identity.id, name: req.identity.name } : { id: req.identity.id };
    const who: Attachment = { cid: newId(), user, at: this.now() };
    this.ctx.acceptWebSocket(server);
    server.serializeAttachment(who);

    // No await from here to the return: the replay is queued on the socket before any
    // live event can be, so a client sees missed events strictly before new ones.
    const replay = this.log.replayAfter(req.since, req.epoch);
    const connected: ConnectedData<Snapshot> = {
      connection_id: who.cid,
      user,
      epoch: this.log.epoch,
      seq: this.log.lastSeq,
      resumed: replay !== null,
      snapshot: this.snapshot(req.identity),
      heartbeat_ms: this.config.heartbeatMs,
    };
    server.send(this.frame("connected", connected));
    for (const frame of replay ?? []) server.send(frame);
    this.onJoin(server, who, req.identity);
    // One timer for all sockets; it stops itself when the last one leaves.
    this.timers.setIfAbsent(HEARTBEAT_TIMER, who.at + this.config.heartbeatMs);
    this.counters.add("connects");
    // A channel going from idle to watched is reported at once, like the last one leaving.
    this.reportStats(this.openSockets().length === 1);
    log("socket.connected", { channel: req.channel, user: user.id, cid: who.cid, resumed: replay !== null, replayed: replay?.length ?? 0 });
    return new Response(null, { status: 101, webSocket: client, headers: upgradeHeaders(req.subprotocol) });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    // Frames queued before a server-side close (rate limit, reaping) still arrive: drop them.
    if (ws.readyState !== WebSocket.OPEN) return;
    const verdict = this.frameRate.check(this.attachmentOf(ws).cid, this.now());
    if (verdict === "close") {
      this.dropSocket(ws, CloseCode.RateLimited, "too many frames");
      return;
    }
    if (verdict === "refuse") {
      this.sendError(ws, undefined, new HubError("rate_limited", `more than ${this.config.frameRate.perSecond} frames per second`));
      return;
    }
    if (typeof message !== "string") {
      this.sendError(ws, undefined, new HubError("unsupported_data", "binary frames are not accepted; send JSON text"));
      return;
    }
    // length counts UTF-16 units, at most 3 UTF-8 bytes each: encode only when it may matter.
    if (message.length * 3 > this.config.maxFrameBytes && new TextEncoder().encode(message).length > this.config.maxFrameBytes) {
      closeQuietly(ws, CloseCode.TooBig, `frame larger than ${this.config.maxFrameBytes} bytes`);
      return;
    }
    let frame: unknown;
    try {
      frame = JSON.parse(message);
    } catch {
      this.sendError(ws, undefined, new HubError("validation_failed", "frame is not valid JSON"));
      return;
    }
    const envelope = v.safeParse(ClientEnvelope, frame);
    if (!envelope.success) {
      this.sendError(ws, undefined, new HubError("validation_failed", 'a frame is a JSON object with a string "type"'));
      return;
    }
    const { type, ref } = envelope.output;
    this.noteTraffic(ws);
    if (type === "ping") {
      ws.send(PONG_FRAME);
      return;
    }
    try {
      await this.onClientFrame(ws, this.attachmentOf(ws), frame as ClientEnvelope & Record<string, unknown>);
    } catch (err) {
      this.sendError(ws, ref, err);
    }
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    closeQuietly(ws, code, reason);
    if (!this.attachmentOf(ws).left) this.leave(ws, code);
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    closeQuietly(ws, CloseCode.Internal, "socket error");
    if (!this.attachmentOf(ws).left) this.leave(ws, CloseCode.Internal);
  }

  /**
   * Closes a socket from the server side (reaping, expiry, limits) and handles its leave
   * now, while the socket is known to be going. The runtime may still call webSocketClose
   * later, when the client echoes the close (seen in tests); the `left` mark makes that a
   * no-op, so counters and onLeave hooks run once per socket.
   */
  protected dropSocket(ws: WebSocket, code: number, reason: string): void {
    const who = this.attachmentOf(ws);
    if (who.left) return;
    ws.serializeAttachment({ ...who, left: true });
    closeQuietly(ws, code, reason);
    this.leave(ws, code);
  }

  private leave(ws: WebSocket, code: number): void {
    const who = this.attachmentOf(ws);
    this.frameRate.forget(who.cid);
    this.onLeave(ws, who);
    this.counters.add("closes");
    if (this.openSockets().length === 0) {
      this.timers.clear(HEARTBEAT_TIMER);
      // The last socket leaving is reported at once, so totals never show a ghost socket.
      this.reportStats(true);
    }
    log("socket.closed", { channel: this.channel, user: who.user.id, cid: who.cid, code });
  }

  protected attachmentOf(ws: WebSocket): Attachment {
    return ws.deserializeAttachment() as Attachment;
  }

  /** Open sockets only: getWebSockets() also returns ones that are closing. */
  protected openSockets(): WebSocket[] {
    return this.ctx.getWebSockets().filter((ws) => ws.readyState === WebSocket.OPEN);
  }

  /**
   * Logs an event and fans it out: serialized once, the same string to every socket
   * (but those `except` matches, which still get it on replay).
   */
  protected publish(type: string, data: unknown, except?: (who: Attachment) => boolean, retainKey?: string): LoggedEvent {
    const at = this.now();
    const event = this.log.append(this.channel, type, data, at, retainKey);
    const maxAge = this.logMaxAgeMs();
    if (maxAge !== null) this.timers.setIfAbsent(TRIM_TIMER, at + maxAge + trimSlack(maxAge));
    const delivered = this.broadcast(event.frame, except);
    this.counters.addPublished(delivered);
    this.reportStats();
    return event;
  }

  /**
   * The one alarm: runs every due timer. Safe to run twice for the same time (each row
   * is gone once it ran) and after a crash (a row that did not commit runs again).
   */
  override async alarm(): Promise<void> {
    await this.timers.runDue(this.now(), (timer) => {
      switch (timer.name) {
        case HEARTBEAT_TIMER:
          return this.heartbeat();
        case TRIM_TIMER:
          return this.trimLog();
        case STATS_TIMER:
          return this.reportStats(true);
        default:
          return this.onTimer(timer);
      }
    });
  }

  /** Closes sockets silent for two intervals, beats the others, and comes back while any is open. */
  private heartbeat(): void {
    const now = this.now();
    const interval = this.config.heartbeatMs;
    let open = 0;
    for (const ws of this.openSockets()) {
      const who = this.attachmentOf(ws);
      const verdict = judge(who, this.ctx.getWebSocketAutoResponseTimestamp(ws), now, interval);
      if (verdict.reap) {
        this.dropSocket(ws, CloseCode.GoingAway, `no client traffic for ${(REAP_AFTER_INTERVALS * interval) / 1000} s`);
        continue;
      }
      if (verdict.update) ws.serializeAttachment({ ...who, ...verdict.update });
      open += 1;
    }
    if (open === 0) return;
    const beat = this.frame(HEARTBEAT_FRAME, { interval_ms: interval } satisfies HeartbeatData);
    this.broadcast(beat);
    this.timers.set(HEARTBEAT_TIMER, now + interval);
    // Keeps this channel current in /v1/stats while it is only watched, not written to.
    this.reportStats();
  }

  private noteTraffic(ws: WebSocket): void {
    const who = this.attachmentOf(ws);
    const now = this.now();
    // A frame proves the client alive; restamping more than a few times an interval buys nothing.
    if (now - (who.seen ?? who.at) >= this.config.heartbeatMs / 4) ws.serializeAttachment({ ...who, seen: now });
  }

  private trimLog(): void {
    const maxAge = this.logMaxAgeMs();
    if (maxAge === null) return;
    this.log.trimBefore(this.now() - maxAge);
    const oldest = this.log.oldestTrimmableAt();
    if (oldest !== null) this.timers.set(TRIM_TIMER, oldest + maxAge + trimSlack(maxAge));
  }

  /**
   * Deletes everything this channel stored and closes its sockets with 4004: the channel
   * is as if it never existed, and a new use of the id starts a new epoch.
   */
  protected async wipe(reason: string): Promise<void> {
    for (const ws of this.openSockets()) this.dropSocket(ws, CloseCode.NotFound, reason);
    await this.ctx.storage.deleteAll();
    this.timers.forget();
    // Tables are gone too; recreate them empty so this instance can keep serving (404s).
    this.migrateAll();
    this.log.reload();
    this.channelName = undefined;
    this.onWiped();
  }

  /** Sends one string to every open socket (but those `except` picks); returns how many. */
  protected broadcast(frame: string, except?: (who: Attachment) => boolean): number {
    let sent = 0;
    for (const ws of this.ctx.getWebSockets()) {
      if (ws.readyState !== WebSocket.OPEN) continue;
      if (except?.(this.attachmentOf(ws))) continue;
      ws.send(frame);
      sent++;
    }
    return sent;
  }

  /** GET /v1/{kind}s/:id/stats. Null for a channel that never had state or sockets. */
  channelStats(): ChannelStats | null {
    const channel = this.channel;
    if (!channel) return null;
    return {
      channel,
      open_sockets: this.openSockets().length,
      seq: this.log.lastSeq,
      epoch: this.log.epoch,
      counters: this.counters.totals(),
    };
  }

  /** Sends coalesced counter deltas to the global StatsHub (fire and forget). */
  protected reportStats(force = false): void {
    const decision = this.counters.decide(this.channel, () => this.openSockets().length, this.now(), force);
    if (!decision) return;
    if ("laterAt" in decision) {
      this.timers.setIfAbsent(STATS_TIMER, decision.laterAt);
      return;
    }
    this.ctx.waitUntil(
      this.env.STATS_HUB.getByName("global")
        .report(decision.report)
        .catch((err: unknown) => log("stats.report_failed", { channel: this.channel, error: String(err) })),
    );
  }

  /** An ephemeral frame: no seq, not logged, not replayed. */
  protected frame(type: string, data: unknown): string {
    const frame: ServerFrame = { type, channel: this.channel, ts: new Date(this.now()).toISOString(), data };
    return JSON.stringify(frame);
  }

  protected ack(ws: WebSocket, ref: string | number | undefined, extra: Record<string, unknown> = {}): void {
    ws.send(this.frame("ack", { ...extra, ref }));
  }

  protected sendError(ws: WebSocket, ref: string | number | undefined, err: unknown): void {
    const error = err instanceof HubError ? err : new HubError("internal", "internal error");
    this.counters.add("errors");
    if (!(err instanceof HubError)) log("socket.error", { channel: this.channel, error: String(err) });
    if (ws.readyState === WebSocket.OPEN) ws.send(this.frame("error", { ref, code: error.code, message: error.message }));
  }
}

/** Lets trims batch up: about ten per max age at most, and never more than an hour late. */
function trimSlack(maxAgeMs: number): number {
  return Math.min(Math.floor(maxAgeMs / 10), 3_600_000);
}
