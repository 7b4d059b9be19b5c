// Per-channel counters, persisted next to the event log, plus the deltas not yet reported
// to the global StatsHub (see stats-reporter.ts for when they go).
import { splitChannel } from "../channel-kinds";
import type { ChannelKind } from "../protocol";

export const COUNTER_SCHEMA = ["CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)"];
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

export class ChannelCounters {
  private pending = zeroCounters();
  private lastReport = 0;

  /** `bound` says whether the channel exists: a wiped (expired) one must stay empty. */
  constructor(
    private readonly sql: SqlStorage,
    private readonly bound: () => boolean,
  ) {}

  add(name: CounterName, amount = 1): void {
    if (amount === 0 || !this.bound()) return;
    this.sql.exec(
      "INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
      name,
      amount,
    );
    this.pending[name] += amount;
  }

  /** One event sent to `delivered` sockets: both counters in one statement (the hot path). */
  addPublished(delivered: number): void {
    if (!this.bound()) return;
    this.sql.exec(
      "INSERT INTO counters (name, value) VALUES ('published', 1), ('delivered', ?) ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
      delivered,
    );
    this.pending.published += 1;
    this.pending.delivered += delivered;
  }

  totals(): CounterValues {
    const values = zeroCounters();
    for (const row of this.sql.exec<{ name: CounterName; value: number }>("SELECT name, value FROM counters")) values[row.name] = row.value;
    return values;
  }

  hasPending(): boolean {
    return Object.values(this.pending).some((n) => n !== 0);
  }

  /** When a held-back report may go out. */
  nextReportAt(): number {
    return this.lastReport + REPORT_EVERY_MS;
  }

  /**
   * Report now (the deltas since the last report), later (a recent report holds these
   * back), or not at all (nothing pending, or an unbound channel).
   */
  decide(channel: string, openSockets: () => number, now: number, force: boolean): ReportDecision {
    const kind = splitChannel(channel)?.spec.kind;
    if (!kind) return null;
    const delta = this.takeReport(now, force);
    if (!delta) return this.hasPending() ? { laterAt: this.nextReportAt() } : null;
    return { report: { channel, kind, openSockets: openSockets(), delta, at: now } };
  }

  /** The deltas to report now, or null while the last report is recent and `force` is off. */
  takeReport(now: number, force: boolean): CounterValues | null {
    if (!force && now - this.lastReport < REPORT_EVERY_MS) return null;
    const delta = this.pending;
    this.pending = zeroCounters();
    this.lastReport = now;
    return delta;
  }
}
