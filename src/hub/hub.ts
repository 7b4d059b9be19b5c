import { DurableObject } from "cloudflare:workers";
import type { Identity } from "../auth/jwt";
import { type HubConfig, readConfig } from "../config";
import { errorBody, fail, HubError, type Outcome, ok } from "../errors";
import { newId } from "../ids";
import { log } from "../log";
import { CloseCode, type HubFrames, type Json, PING_FRAME, PONG_FRAME, type UserRef } from "../protocol";
import { closeQuietly, refuseSocket, upgradeHeaders } from "../websocket";
import { ClientRefs } from "./client-refs";
import { type Attachment, Connections, type ConnectRequest, type Refusal, readConnectRequest } from "./connections";
import { ChannelCounters, type ChannelStats } from "./counters";
import { EventIdMemory } from "./event-ids";
import { EventLog, type LoggedEvent } from "./event-log";
import { FrameRateLimiter } from "./frame-rate";
import { HEARTBEAT_TIMER, Heartbeats } from "./heartbeat";
import { type ClientFrame, readClientFrame } from "./intake";
import { LogTrimmer, TRIM_TIMER } from "./log-trim";
import { type ComponentSchema, migrateHub } from "./migrations";
import { Publisher } from "./publisher";
import { STATS_TIMER, StatsReporter } from "./stats-reporter";
import { type Timer, Timers } from "./timers";

/** The data of frame `K`: a frame every hub sends, or one of this kind's events. */
type FrameData<Events, K> = K extends keyof HubFrames ? HubFrames[K] : K extends keyof Events ? Events[K] : never;

/**
 * The lifecycle every channel shares, whatever its kind: accept a socket, replay what it
 * missed, take its frames, publish, run timers, close. Components do the work (Connections,
 * EventLog, Timers, ...); subclasses fill in the hooks: who may join, the snapshot, and the
 * client frames they accept. `Events` maps the kind's event types to their data (protocol/).
 */
export abstract class Hub<Snapshot = unknown, Events extends object = Record<never, never>> extends DurableObject<Env> {
  protected readonly config: HubConfig;
  protected readonly sql: SqlStorage;
  protected readonly events: EventLog;
  protected readonly sockets: Connections;
  protected readonly timers: Timers;
  protected readonly counters: ChannelCounters;
  protected readonly eventIds: EventIdMemory;
  private readonly stats: StatsReporter;
  private readonly trimmer: LogTrimmer;
  private readonly publisher: Publisher;
  private readonly heartbeats: Heartbeats;
  private readonly frameRate: FrameRateLimiter;
  /** Milliseconds since the epoch. Replaced in tests to move time without sleeping. */
  now: () => number = () => Date.now();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.config = readConfig(env);
    this.sql = ctx.storage.sql;
    // SQL is synchronous, so migrating here completes before any request is delivered.
    this.migrateAll();
    this.events = new EventLog(this.sql, this.retention());
    this.sockets = new Connections(ctx);
    this.timers = new Timers(ctx.storage, this.sql);
    this.counters = new ChannelCounters(this.sql, () => this.channel !== "");
    this.eventIds = new EventIdMemory(this.sql);
    this.heartbeats = new Heartbeats(ctx, this.sockets, this.timers, this.config.heartbeatMs);
    this.trimmer = new LogTrimmer(this.events, this.timers, this.config.logMaxAgeMs);
    this.publisher = new Publisher(this.events, this.sockets, this.counters, this.trimmer, new ClientRefs(this.sql));
    this.frameRate = new FrameRateLimiter(this.config.frameRate);
    this.stats = new StatsReporter(ctx, env, this.counters, this.timers);
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING_FRAME, PONG_FRAME));
  }

  private migrateAll(): void {
    migrateHub(this.ctx.storage, this.schema());
  }

  // ---- hooks ----

  protected abstract schema(): ComponentSchema;
  /** Null admits the socket; a refusal closes it with that code. `channel` is "room:42". */
  protected abstract admit(identity: Identity, channel: string): Refusal | null;
  protected abstract snapshot(identity: Identity): Snapshot;
  /** How many events the log keeps. Called from the constructor: use only `this.config`. */
  protected retention(): number {
    return this.config.logRetention;
  }
  /** Handles a client frame that passed intake. Throw HubError to answer with an `error` frame. */
  protected onClientFrame(_ws: WebSocket, _from: Attachment, frame: ClientFrame): void | Promise<void> {
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

  /** The channel this object serves ("job:42"), remembered from its first write; "" before. */
  protected get channel(): string {
    return this.events.channel;
  }

  protected bindChannel(channel: string): void {
    this.events.bind(channel);
  }

  // ---- sockets ----

  override async fetch(request: Request): Promise<Response> {
    const req = readConnectRequest(request);
    if (req instanceof HubError) return Response.json(errorBody(req), { status: req.status });
    return this.acceptConnection(req);
  }

  private acceptConnection(req: ConnectRequest): Response {
    const refusal = this.admit(req.identity, req.channel);
    if (refusal) {
      this.counters.add("refusals");
      this.reportStats();
      log("socket.refused", { channel: req.channel, user: req.identity.id, code: refusal.code, reason: refusal.reason });
      return refuseSocket(refusal.code, refusal.reason, req.subprotocol);
    }
    const { 0: client, 1: server } = new WebSocketPair();
    this.bindChannel(req.channel);
    const user: UserRef = req.identity.name ? { id: req.identity.id, name: req.identity.name } : { id: req.identity.id };
    const who: Attachment = { cid: newId(), user, at: this.now(), ...(req.client ? { client: req.client } : {}) };
    this.sockets.accept(server, who);

    // No await from here to the return: the replay is queued on the socket before any
    // live event can be, so a client sees missed events strictly before new ones.
    const replay = this.events.replayAfter(req.since, req.epoch);
    server.send(
      this.frame("connected", {
        connection_id: who.cid,
        user,
        epoch: this.events.epoch,
        seq: this.events.lastSeq,
        resumed: replay !== null,
        snapshot: this.snapshot(req.identity),
        heartbeat_ms: this.config.heartbeatMs,
      }),
    );
    for (const frame of replay ?? []) server.send(frame);
    this.onJoin(server, who, req.identity);
    // One timer for all sockets; it stops itself when the last one leaves.
    this.heartbeats.start(who.at);
    this.counters.add("connects");
    // A channel going from idle to watched is reported at once, like the last one leaving.
    this.reportStats(this.sockets.count() === 1);
    log("socket.connected", { channel: req.channel, user: user.id, cid: who.cid, resumed: replay !== null, replayed: replay?.length ?? 0 });
    return new Response(null, { status: 101, webSocket: client, headers: upgradeHeaders(req.subprotocol) });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    // Frames queued before a server-side close (rate limit, reaping) still arrive: drop them.
    if (ws.readyState !== WebSocket.OPEN) return;
    const from = this.sockets.attachmentOf(ws);
    const rate = this.frameRate.check(from.cid, this.now());
    const intake = readClientFrame(message, rate, { maxFrameBytes: this.config.maxFrameBytes, perSecond: this.config.frameRate.perSecond });
    switch (intake.action) {
      case "close":
        if (intake.code === CloseCode.RateLimited) this.dropSocket(ws, intake.code, intake.reason);
        else closeQuietly(ws, intake.code, intake.reason);
        return;
      case "refuse":
        return this.sendError(ws, undefined, intake.error);
      case "pong":
        this.heartbeats.noteTraffic(ws, from, this.now());
        ws.send(PONG_FRAME);
        return;
      case "handle":
        this.heartbeats.noteTraffic(ws, from, this.now());
        if (this.publisher.answerAgain(ws, from, intake.frame.ref, this.now())) return;
        try {
          await this.onClientFrame(ws, from, intake.frame);
        } catch (err) {
          this.sendError(ws, intake.frame.ref, err);
        }
    }
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    this.closedByClient(ws, code, reason);
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    this.closedByClient(ws, CloseCode.Internal, "socket error");
  }

  /** Always answers the close (or the client never gets its close frame), and handles the leave once. */
  private closedByClient(ws: WebSocket, code: number, reason: string): void {
    closeQuietly(ws, code, reason);
    const who = this.sockets.attachmentOf(ws);
    if (!who.left) this.leave(ws, who, code);
  }

  /** Closes a socket from the server side (reaping, expiry, limits) and handles its leave now, once. */
  protected dropSocket(ws: WebSocket, code: number, reason: string): void {
    const who = this.sockets.close(ws, code, reason);
    if (who) this.leave(ws, who, code);
  }

  private leave(ws: WebSocket, who: Attachment, code: number): void {
    this.frameRate.forget(who.cid);
    this.onLeave(ws, who);
    this.counters.add("closes");
    if (this.sockets.count() === 0) {
      this.heartbeats.stop();
      // The last socket leaving is reported at once, so totals never show a ghost socket.
      this.reportStats(true);
    }
    log("socket.closed", { channel: this.channel, user: who.user.id, cid: who.cid, code });
  }

  // ---- events ----

  /** Logs one of this kind's events and sends it to every socket but those `except` picks. */
  protected publish<K extends keyof Events & string>(type: K, data: Events[K], except?: (who: Attachment) => boolean): LoggedEvent {
    return this.publishProduct(type, data as Json, except);
  }

  /** A producer's own event type (`like:updated`), checked against the reserved names; `retainKey`: see RetainedValues. */
  protected publishProduct(type: string, data: Json | null, except?: (who: Attachment) => boolean, retainKey?: string): LoggedEvent {
    const event = this.publisher.publish(type, data, this.now(), except, retainKey);
    this.reportStats();
    return event;
  }

  /** An ephemeral frame: no seq, not logged, not replayed. */
  protected frame<K extends (keyof Events | keyof HubFrames) & string>(type: K, data: FrameData<Events, K>): string {
    return this.publisher.frame(type, data, this.now());
  }

  protected ack(ws: WebSocket, ref: string | number | undefined, extra: Record<string, unknown> = {}): void {
    this.publisher.ack(ws, this.sockets.attachmentOf(ws), ref, extra, this.now());
  }

  protected sendError(ws: WebSocket, ref: string | number | undefined, err: unknown): void {
    this.publisher.sendError(ws, ref, err, this.now());
  }

  /** Counter deltas to the global StatsHub, coalesced (see StatsReporter). */
  private reportStats(force = false): void {
    this.stats.report(this.channel, () => this.sockets.count(), this.now(), force);
  }

  // ---- timers ----

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
          return this.trimmer.run(this.now());
        case STATS_TIMER:
          return this.reportStats(true);
        default:
          return this.onTimer(timer);
      }
    });
  }

  /** Closes sockets silent for two intervals and beats the others; a beat keeps a watched-only channel current in /v1/stats. */
  private heartbeat(): void {
    const beat = this.frame("heartbeat", { interval_ms: this.config.heartbeatMs });
    const open = this.heartbeats.beat(this.now(), beat, (ws, reason) => this.dropSocket(ws, CloseCode.GoingAway, reason));
    if (open > 0) this.reportStats();
  }

  /**
   * Deletes everything this channel stored and closes its sockets with 4004: the channel
   * is as if it never existed, and a new use of the id starts a new epoch.
   */
  protected async wipe(reason: string): Promise<void> {
    for (const ws of this.sockets.open()) this.dropSocket(ws, CloseCode.NotFound, reason);
    await this.ctx.storage.deleteAll();
    this.timers.forget();
    // Tables are gone too; recreate them empty so this instance can keep serving (404s).
    this.migrateAll();
    this.events.reload();
    this.onWiped();
  }

  // ---- RPC ----

  /** GET /v1/{kind}s/:id/stats: not_found for a channel that never had state or sockets. */
  channelStats(): Outcome<ChannelStats> {
    const channel = this.channel;
    if (!channel) return fail("not_found", "no such channel");
    return ok({
      channel,
      open_sockets: this.sockets.count(),
      seq: this.events.lastSeq,
      epoch: this.events.epoch,
      counters: this.counters.totals(),
    });
  }
}
