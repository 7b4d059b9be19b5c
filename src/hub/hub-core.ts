import { DurableObject } from "cloudflare:workers";
import { type HubConfig, readConfig } from "../config";
import { fail, type Outcome, ok } from "../errors";
import { log } from "../log";
import { type HubFrames, type Json, PING_FRAME, PONG_FRAME } from "../protocol";
import { ChannelWebhooks, type Requeue, WEBHOOK_TIMER } from "../webhooks/channel-webhooks";
import { ClientRefs } from "./client-refs";
import { type Attachment, Connections } from "./connections";
import { ChannelCounters, type ChannelStats } from "./counters";
import { EventIdMemory } from "./event-ids";
import { EventLog, type LoggedEvent } from "./event-log";
import { HEARTBEAT_TIMER, Heartbeats } from "./heartbeat";
import { LogTrimmer, TRIM_TIMER } from "./log-trim";
import { type ComponentSchema, LazySchema } from "./migrations";
import { Publisher } from "./publisher";
import { STATS_TIMER, StatsReporter } from "./stats-reporter";
import { type Timer, Timers } from "./timers";

/** The data of frame `K`: a frame every hub sends, or one of this kind's events. */
type FrameData<Events, K> = K extends keyof HubFrames ? HubFrames[K] : K extends keyof Events ? Events[K] : never;

/**
 * What every hub holds apart from its sockets: its storage (created on the first write),
 * the event log, timers on the one alarm, counters and stats. `Hub` (hub.ts) adds the
 * socket lifecycle on top; channel kinds extend `Hub`.
 */
export abstract class HubCore<Events extends object = Record<never, never>> extends DurableObject<Env> {
  protected readonly config: HubConfig;
  protected readonly sql: SqlStorage;
  protected readonly events: EventLog;
  protected readonly sockets: Connections;
  protected readonly timers: Timers;
  protected readonly counters: ChannelCounters;
  protected readonly eventIds: EventIdMemory;
  protected readonly heartbeats: Heartbeats;
  protected readonly publisher: Publisher;
  protected readonly tables: LazySchema;
  /** This channel's webhooks: the outbox, client `emit`s, delivery from the alarm. */
  protected readonly webhooks: ChannelWebhooks;
  protected readonly stats: StatsReporter;
  private readonly trimmer: LogTrimmer;
  /** Milliseconds since the epoch. Replaced in tests to move time without sleeping. */
  now: () => number = () => Date.now();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.config = readConfig(env);
    this.sql = ctx.storage.sql;
    // SQL is synchronous, so a migration here completes before any request is delivered.
    this.tables = new LazySchema(ctx.storage, () => this.schema());
    this.events = new EventLog(this.sql, this.retention(), () => this.tables.stored, this.config.replayMaxBytes);
    this.sockets = new Connections(ctx);
    this.timers = new Timers(ctx.storage, this.sql, () => this.tables.stored);
    this.counters = new ChannelCounters(
      this.sql,
      () => this.channel !== "",
      () => this.events.deliveryTotals(),
    );
    this.eventIds = new EventIdMemory(this.sql);
    this.heartbeats = new Heartbeats(ctx, this.sockets, this.timers, this.config.heartbeatMs, this.config.tokenGraceMs);
    this.trimmer = new LogTrimmer(this.events, this.timers, this.config.logMaxAgeMs);
    this.publisher = new Publisher(this.events, this.sockets, this.counters, this.trimmer, new ClientRefs(this.sql));
    this.stats = new StatsReporter(ctx, env, this.counters, this.timers);
    this.webhooks = new ChannelWebhooks(ctx, env, this.config, this.timers, {
      now: () => this.now(),
      channel: () => this.channel,
      stored: () => this.tables.stored,
      ensureStorage: () => this.ensureStorage(),
    });
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING_FRAME, PONG_FRAME));
  }

  /** Every write path comes through here first (bindChannel does): the first one creates the tables. */
  protected ensureStorage(): void {
    if (this.tables.ensure()) this.events.reload();
  }

  /** False until the first write: reads then answer "nothing here" without touching storage. */
  protected get stored(): boolean {
    return this.tables.stored;
  }

  // ---- hooks ----

  protected abstract schema(): ComponentSchema;
  /** How many events the log keeps. Called from the constructor: use only `this.config`. */
  protected retention(): number {
    return this.config.logRetention;
  }
  /** A due timer the base does not own (stages, watchdog, expiry, ...). */
  protected onTimer(timer: Timer): void | Promise<void> {
    log("timer.unknown", { channel: this.channel, name: timer.name });
  }

  /** The channel this object serves ("job:42"), remembered from its first write; "" before. */
  protected get channel(): string {
    return this.events.channel;
  }

  protected bindChannel(channel: string): void {
    this.ensureStorage();
    this.events.bind(channel);
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
    this.reportStats();
  }

  /** Counter deltas to the channel's stats shard, coalesced (see StatsReporter). */
  protected reportStats(force = false): void {
    this.stats.report(this.channel, () => this.sockets.count(), this.now(), force);
  }

  // ---- timers ----

  /** The heartbeat timer fired (the socket side of the hub owns it). */
  protected abstract beat(): void;

  /**
   * The one alarm: runs every due timer. Safe to run twice for the same time (a running
   * row is leased into the future) and after a crash (its lease runs out, it runs again).
   */
  override async alarm(): Promise<void> {
    await this.timers.runDue(this.now(), (timer) => {
      switch (timer.name) {
        case HEARTBEAT_TIMER:
          return this.beat();
        case TRIM_TIMER:
          return this.trimmer.run(this.now());
        case STATS_TIMER:
          return this.reportStats(true);
        case WEBHOOK_TIMER:
          return this.webhooks.onTimer();
        default:
          return this.onTimer(timer);
      }
    });
  }

  // ---- RPC ----

  /** A replayed dead letter comes back to its channel's outbox. */
  requeueWebhook(entry: Requeue): Outcome<{ requeued: true }> {
    this.webhooks.requeue(entry);
    return ok({ requeued: true });
  }

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
