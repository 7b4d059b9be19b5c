import { DurableObject } from "cloudflare:workers";
import { kindNamed } from "../channel-kinds";
import { type Outcome, ok } from "../errors";
import { COUNTER_NAMES, type CounterValues, type StatsReport, zeroCounters } from "../hub/counters";
import { migrate } from "../hub/migrations";
import { CHANNEL_KINDS, type ChannelKind } from "../protocol";

const BUCKET_MS = 10_000;
export const WINDOW_MS = 60_000;
/** A channel part that has not reported for this long is taken as gone (its object was reset). */
export const STALE_AFTER_MS = 10 * 60_000;
/** How many of its busiest channels a shard returns; the fan-in keeps the overall top. */
export const TOP_CHANNELS = 10;

/**
 * A report from one object of a channel. `part` tells a sharded channel's objects apart
 * (0 is the channel's own object, 1.. its socket shards), so their sockets add up.
 */
export interface PartReport extends StatsReport {
  part?: number;
}

export type TopChannel = {
  channel: string;
  open_sockets: number;
  /** Over the last minute. */
  published: number;
  delivered: number;
};

/** One shard's share of the totals; the fan-in sums these. */
export interface ShardStats {
  started: number | null;
  open_sockets: Record<ChannelKind, number>;
  active_channels: number;
  last_minute: CounterValues;
  since_start: CounterValues;
  /** Reports this shard has taken since it started: its load, for the spread. */
  reports: number;
  top: TopChannel[];
}

/**
 * Totals for the channels whose name hashes to this shard (see shardFor). Hubs report
 * coalesced deltas here at most every few seconds each; no shard sees another's channels,
 * so no object takes more than its share of the reports.
 */
export class StatsShard extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    migrate(ctx.storage, "stats-shard", [
      "CREATE TABLE parts (channel TEXT NOT NULL, part INTEGER NOT NULL, kind TEXT NOT NULL, open_sockets INTEGER NOT NULL, updated_at INTEGER NOT NULL, PRIMARY KEY (channel, part))",
      "CREATE TABLE buckets (bucket INTEGER NOT NULL, name TEXT NOT NULL, value INTEGER NOT NULL, PRIMARY KEY (bucket, name))",
      "CREATE TABLE channel_buckets (channel TEXT NOT NULL, bucket INTEGER NOT NULL, published INTEGER NOT NULL, delivered INTEGER NOT NULL, PRIMARY KEY (channel, bucket))",
      "CREATE TABLE totals (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    ]);
  }

  report(report: PartReport): Outcome<null> {
    const { channel, kind, openSockets, delta, at } = report;
    this.add("reports", 1);
    if (this.total("started") === 0) this.add("started", at);
    this.sql.exec(
      "INSERT INTO parts (channel, part, kind, open_sockets, updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT(channel, part) DO UPDATE SET open_sockets = excluded.open_sockets, updated_at = excluded.updated_at",
      channel,
      report.part ?? 0,
      kind,
      openSockets,
      at,
    );
    const bucket = Math.floor(at / BUCKET_MS);
    for (const name of COUNTER_NAMES) {
      const value = delta[name];
      if (!value) continue;
      this.sql.exec(
        "INSERT INTO buckets (bucket, name, value) VALUES (?, ?, ?) ON CONFLICT(bucket, name) DO UPDATE SET value = value + excluded.value",
        bucket,
        name,
        value,
      );
      this.add(name, value);
    }
    if (delta.published || delta.delivered) {
      this.sql.exec(
        "INSERT INTO channel_buckets (channel, bucket, published, delivered) VALUES (?, ?, ?, ?) ON CONFLICT(channel, bucket) DO UPDATE SET published = published + excluded.published, delivered = delivered + excluded.delivered",
        channel,
        bucket,
        delta.published,
        delta.delivered,
      );
    }
    const oldBucket = Math.floor((at - 2 * WINDOW_MS) / BUCKET_MS);
    this.sql.exec("DELETE FROM buckets WHERE bucket < ?", oldBucket);
    this.sql.exec("DELETE FROM channel_buckets WHERE bucket < ?", oldBucket);
    this.sql.exec("DELETE FROM parts WHERE updated_at < ?", at - STALE_AFTER_MS);
    return ok(null);
  }

  read(now = Date.now()): Outcome<ShardStats> {
    const open: Record<ChannelKind, number> = Object.fromEntries(CHANNEL_KINDS.map((k) => [k, 0])) as Record<ChannelKind, number>;
    for (const row of this.sql.exec<{ kind: string; n: number }>(
      "SELECT kind, SUM(open_sockets) AS n FROM parts WHERE updated_at >= ? GROUP BY kind",
      now - STALE_AFTER_MS,
    )) {
      const spec = kindNamed(row.kind);
      if (spec) open[spec.kind] = row.n;
    }
    // Active: watched now, or reported within the last minute.
    const active = this.sql
      .exec<{ n: number }>(
        "SELECT COUNT(DISTINCT channel) AS n FROM parts WHERE (open_sockets > 0 AND updated_at >= ?) OR updated_at >= ?",
        now - STALE_AFTER_MS,
        now - WINDOW_MS,
      )
      .one().n;
    const recent = Math.floor((now - WINDOW_MS) / BUCKET_MS);
    const lastMinute = zeroCounters();
    for (const row of this.sql.exec<{ name: keyof CounterValues; n: number }>(
      "SELECT name, SUM(value) AS n FROM buckets WHERE bucket > ? GROUP BY name",
      recent,
    )) {
      lastMinute[row.name] = row.n;
    }
    const sinceStart = zeroCounters();
    for (const name of COUNTER_NAMES) sinceStart[name] = this.total(name);
    const started = this.total("started");
    return ok({
      started: started === 0 ? null : started,
      open_sockets: open,
      active_channels: active,
      last_minute: lastMinute,
      since_start: sinceStart,
      reports: this.total("reports"),
      top: this.top(now, recent),
    });
  }

  /** The busiest channels: by open sockets, then by deliveries over the last minute. */
  private top(now: number, recentBucket: number): TopChannel[] {
    return this.sql
      .exec<TopChannel>(
        `SELECT p.channel AS channel, p.open_sockets AS open_sockets,
                COALESCE(b.published, 0) AS published, COALESCE(b.delivered, 0) AS delivered
         FROM (SELECT channel, SUM(open_sockets) AS open_sockets FROM parts WHERE updated_at >= ? GROUP BY channel) p
         LEFT JOIN (SELECT channel, SUM(published) AS published, SUM(delivered) AS delivered
                    FROM channel_buckets WHERE bucket > ? GROUP BY channel) b ON b.channel = p.channel
         WHERE p.open_sockets > 0 OR b.delivered > 0 OR b.published > 0
         ORDER BY p.open_sockets DESC, delivered DESC, p.channel LIMIT ?`,
        now - STALE_AFTER_MS,
        recentBucket,
        TOP_CHANNELS,
      )
      .toArray();
  }

  private total(name: string): number {
    return this.sql.exec<{ value: number }>("SELECT value FROM totals WHERE name = ?", name).toArray()[0]?.value ?? 0;
  }

  private add(name: string, value: number): void {
    this.sql.exec(
      "INSERT INTO totals (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
      name,
      value,
    );
  }
}
