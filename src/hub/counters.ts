// Per-channel counters, persisted next to the event log, and how much of each the channel's
// stats shard has acknowledged: the deltas not yet reported are stored too, so an eviction
// or a failed report loses none (see stats-reporter.ts for when they go). `published` and
// `delivered` are the event log's own totals (a publish writes no counter row); their rows
// hold only what was acknowledged, plus any count from before the log kept them.
import { splitChannel } from "../channel-kinds";
import type { ChannelKind } from "../protocol";
import type { DeliveryTotals } from "./event-log";

export const COUNTER_SCHEMA = [
  "CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
  // How much of `value` the stats shard has acknowledged. Counts from before this column
  // were reported from memory already: they start acknowledged.
  "ALTER TABLE counters ADD COLUMN reported INTEGER NOT NULL DEFAULT 0",
  "UPDATE counters SET reported = value",
];
export const COUNTER_NAMES = ["published", "delivered", "errors", "connects", "closes", "refusals"] as const;
export type CounterName = (typeof COUNTER_NAMES)[number];
export type CounterValues = Record<CounterName, number>;

export const REPORT_EVERY_MS = 5_000;

export interface StatsReport {
  channel: string;
  kind: ChannelKind;
  openSockets: number;
  delta: CounterValues;
  at: number;
}

export interface ChannelStats {
  channel: string;
  open_sockets: number;
  seq: number;
  epoch: string;
  counters: CounterValues;
}

/** What a hub should do with its held-back deltas now. */
export type ReportDecision = { report: StatsReport } | { laterAt: number } | null;

export function zeroCounters(): CounterValues {
  return { published: 0, delivered: 0, errors: 0, connects: 0, closes: 0, refusals: 0 };
}

/**
 * A quiet channel (nothing counted, the same open sockets) reports only this often: enough
 * to stay in the totals (a shard drops a channel silent for 10 minutes), and no row writes
 * and requests every heartbeat for each of a million idle channels.
 */
export const QUIET_REPORT_MS = 5 * 60_000;

export class ChannelCounters {
  /** Whether some count is not yet acknowledged; read from storage once per instance. */
  private dirty: boolean | undefined;
  /** A report is on its way: its deltas are not acknowledged yet, so none other may go. */
  private inFlight = false;
  private lastReport = 0;
  private lastSockets = -1;

  /** `bound` says whether the channel exists: a wiped (expired) one must stay empty. */
  constructor(
    private readonly sql: SqlStorage,
    private readonly bound: () => boolean,
    private readonly logged: () => DeliveryTotals,
  ) {}

  add(name: CounterName, amount = 1): void {
    if (amount === 0 || !this.bound()) return;
    this.sql.exec(
      "INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
      name,
      amount,
    );
    this.dirty = true;
  }

  /** An event was logged: the log counted it and its deliveries (the hot path writes nothing here). */
  notePublished(): void {
    if (this.bound()) this.dirty = true;
  }

  totals(): CounterValues {
    return this.read().values;
  }

  /** Every counter's value and what the StatsHub acknowledged of it. */
  private read(): { values: CounterValues; reported: CounterValues } {
    const values = zeroCounters();
    const reported = zeroCounters();
    for (const row of this.sql.exec<{ name: CounterName; value: number; reported: number }>("SELECT name, value, reported FROM counters")) {
      values[row.name] = row.value;
      reported[row.name] = row.reported;
    }
    const logged = this.logged();
    values.published += logged.published;
    values.delivered += logged.delivered;
    return { values, reported };
  }

  /** What the StatsHub has not acknowledged yet. */
  private unreported(): CounterValues {
    const { values, reported } = this.read();
    const delta = zeroCounters();
    for (const name of COUNTER_NAMES) delta[name] = values[name] - reported[name];
    return delta;
  }

  hasPending(): boolean {
    this.dirty ??= Object.values(this.unreported()).some((n) => n > 0);
    return this.dirty;
  }

  /** When a held-back report may go out. */
  nextReportAt(): number {
    return this.lastReport + REPORT_EVERY_MS;
  }

  /**
   * Report now (the deltas not yet acknowledged), later (a recent report, or one still on
   * its way, holds these back), or not at all (nothing pending, or an unbound channel).
   */
  decide(channel: string, openSockets: () => number, now: number, force: boolean): ReportDecision {
    const kind = splitChannel(channel)?.spec.kind;
    if (!kind) return null;
    // Counting walks every socket: a publish, which is pending and seldom reports, skips it.
    let sockets: number | undefined;
    const count = () => (sockets ??= openSockets());
    if (!force && !this.hasPending() && now - this.lastReport < QUIET_REPORT_MS && count() === this.lastSockets) return null;
    const delta = this.takeReport(now, force);
    if (!delta) return this.inFlight || this.hasPending() ? { laterAt: Math.max(this.nextReportAt(), now + 1) } : null;
    this.lastSockets = count();
    return { report: { channel, kind, openSockets: this.lastSockets, delta, at: now } };
  }

  /** The deltas to report now, or null while the last report is recent (and `force` is off) or on its way. */
  takeReport(now: number, force: boolean): CounterValues | null {
    if (this.inFlight || (!force && now - this.lastReport < REPORT_EVERY_MS)) return null;
    const delta = this.unreported();
    this.inFlight = true;
    this.lastReport = now;
    return delta;
  }

  /** The stats shard took `delta`; counts added meanwhile stay pending. */
  acknowledged(delta: CounterValues): void {
    this.inFlight = false;
    if (!this.bound()) return;
    for (const name of COUNTER_NAMES) {
      if (delta[name] === 0) continue;
      // `published` and `delivered` may have no row yet: their values live in the log.
      this.sql.exec(
        "INSERT INTO counters (name, value, reported) VALUES (?, 0, ?) ON CONFLICT(name) DO UPDATE SET reported = reported + excluded.reported",
        name,
        delta[name],
      );
    }
    this.dirty = undefined;
  }

  /** The report did not arrive: its deltas go with the next one. */
  notAcknowledged(): void {
    this.inFlight = false;
  }
}
