import { DurableObject } from "cloudflare:workers";
import { kindNamed } from "../channel-kinds";
import { type Outcome, ok } from "../errors";
import { COUNTER_NAMES, type CounterValues, type StatsReport, zeroCounters } from "../hub/counters";
import { migrate } from "../hub/migrations";
import type { ChannelKind } from "../protocol";

const BUCKET_MS = 10_000;
const WINDOW_MS = 60_000;
/** A channel that has not reported for this long is taken as gone (its object was reset). */
export const STALE_AFTER_MS = 10 * 60_000;

export interface HubStats {
  since: string;
  open_sockets: Record<ChannelKind | "total", number>;
  active_channels: number;
  last_minute: CounterValues;
  since_start: CounterValues;
}

/**
 * Totals across every channel. One object ("global") that hubs report coalesced deltas
 * to, at most one call per hub per few seconds (see REPORT_EVERY_MS), never per event.
 */
export class StatsHub extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    migrate(ctx.storage, "stats", [
      "CREATE TABLE channels (channel TEXT PRIMARY KEY, kind TEXT NOT NULL, open_sockets INTEGER NOT NULL, updated_at INTEGER NOT NULL)",
      "CREATE TABLE buckets (bucket INTEGER NOT NULL, name TEXT NOT NULL, value INTEGER NOT NULL, PRIMARY KEY (bucket, name))",
      "CREATE TABLE totals (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
      "CREATE TABLE started (at INTEGER NOT NULL)",
    ]);
  }

  report(report: StatsReport): Outcome<null> {
    const { channel, kind, openSockets, delta, at } = report;
    if (this.sql.exec("SELECT at FROM started").toArray().length === 0) this.sql.exec("INSERT INTO started (at) VALUES (?)", at);
    this.sql.exec(
      "INSERT INTO channels (channel, kind, open_sockets, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT(channel) DO UPDATE SET open_sockets = excluded.open_sockets, updated_at = excluded.updated_at",
      channel,
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
      this.sql.exec(
        "INSERT INTO totals (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
        name,
        value,
      );
    }
    this.sql.exec("DELETE FROM buckets WHERE bucket < ?", Math.floor((at - 2 * WINDOW_MS) / BUCKET_MS));
    this.sql.exec("DELETE FROM channels WHERE updated_at < ?", at - STALE_AFTER_MS);
    return ok(null);
  }

  read(now = Date.now()): Outcome<HubStats> {
    const open = { user: 0, job: 0, room: 0, batch: 0, total: 0 };
    for (const row of this.sql.exec<{ kind: string; n: number }>(
      "SELECT kind, SUM(open_sockets) AS n FROM channels WHERE updated_at >= ? GROUP BY kind",
      now - STALE_AFTER_MS,
    )) {
      const spec = kindNamed(row.kind);
      if (spec) open[spec.kind] = row.n;
      open.total += row.n;
    }
    const active = this.sql
      .exec<{ n: number }>(
        "SELECT COUNT(*) AS n FROM channels WHERE (open_sockets > 0 AND updated_at >= ?) OR updated_at >= ?",
        now - STALE_AFTER_MS,
        now - WINDOW_MS,
      )
      .one().n;
    const lastMinute = zeroCounters();
    for (const row of this.sql.exec<{ name: keyof CounterValues; n: number }>(
      "SELECT name, SUM(value) AS n FROM buckets WHERE bucket > ? GROUP BY name",
      Math.floor((now - WINDOW_MS) / BUCKET_MS),
    )) {
      lastMinute[row.name] = row.n;
    }
    const sinceStart = zeroCounters();
    for (const row of this.sql.exec<{ name: keyof CounterValues; value: number }>("SELECT name, value FROM totals"))
      sinceStart[row.name] = row.value;
    const started = this.sql.exec<{ at: number }>("SELECT at FROM started").toArray()[0]?.at ?? now;
    return ok({
      since: new Date(started).toISOString(),
      open_sockets: open,
      active_channels: active,
      last_minute: lastMinute,
      since_start: sinceStart,
    });
  }
}
