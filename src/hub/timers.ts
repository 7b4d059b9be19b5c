import { log } from "../log";

/**
 * The timer table: every timer a hub needs (heartbeat, stages, watchdog, expiry, log
 * trimming, batch reports) lives here, and the object's one alarm is always set to the
 * earliest due row. Timers are named, so setting one again moves it instead of adding a
 * second: scheduling is idempotent by construction.
 */
export const TIMERS_SCHEMA = [
  "CREATE TABLE timers (name TEXT PRIMARY KEY, due INTEGER NOT NULL, payload TEXT, attempts INTEGER NOT NULL DEFAULT 0)",
];

export interface Timer<P = unknown> {
  name: string;
  /** When it was due, on the hub's clock (ms). Chained timers add to this, not to now, so they do not drift. */
  due: number;
  payload: P;
  attempts: number;
}

/** A timer whose handler threw is tried again after this, at most MAX_ATTEMPTS times. */
const RETRY_DELAY_MS = 5_000;
const MAX_ATTEMPTS = 5;

type Row = {
  name: string;
  due: number;
  payload: string | null;
  attempts: number;
};

export class Timers {
  /** What the alarm is set to, as far as this instance knows; undefined = unknown. */
  private armed: number | null | undefined;

  constructor(
    private readonly storage: DurableObjectStorage,
    private readonly sql: SqlStorage,
  ) {}

  set(name: string, due: number, payload?: unknown, attempts = 0): void {
    this.sql.exec(
      "INSERT INTO timers (name, due, payload, attempts) VALUES (?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET due = excluded.due, payload = excluded.payload, attempts = excluded.attempts",
      name,
      due,
      payload === undefined ? null : JSON.stringify(payload),
      attempts,
    );
    this.arm();
  }

  /** Sets the timer only when it is not already pending (coalescing: the earlier one wins). */
  setIfAbsent(name: string, due: number, payload?: unknown): void {
    if (!this.has(name)) this.set(name, due, payload);
  }

  clear(name: string): void {
    if (this.sql.exec("DELETE FROM timers WHERE name = ?", name).rowsWritten > 0) this.arm();
  }

  has(name: string): boolean {
    return this.get(name) !== null;
  }

  get<P = unknown>(name: string): Timer<P> | null {
    const row = this.sql.exec<Row>("SELECT name, due, payload, attempts FROM timers WHERE name = ?", name).toArray()[0];
    return row ? toTimer<P>(row) : null;
  }

  /**
   * Runs every timer due at `now`, earliest first. Each row is deleted before its handler
   * runs and the two commit together (no await between them), so a second run for the
   * same due time (a retried or duplicated alarm) finds nothing left to do. A handler
   * that throws gets its row back a little later, a bounded number of times.
   */
  async runDue(now: number, handle: (timer: Timer) => void | Promise<void>): Promise<number> {
    // The alarm that woke us is gone; forget what we thought was armed.
    this.armed = undefined;
    let ran = 0;
    for (;;) {
      const row = this.sql
        .exec<Row>("SELECT name, due, payload, attempts FROM timers WHERE due <= ? ORDER BY due, name LIMIT 1", now)
        .toArray()[0];
      if (!row) break;
      ran += 1;
      this.sql.exec("DELETE FROM timers WHERE name = ? AND due = ?", row.name, row.due);
      const timer = toTimer(row);
      try {
        await handle(timer);
      } catch (err) {
        const attempts = timer.attempts + 1;
        log("timer.failed", { name: timer.name, attempts, error: String(err) });
        // A handler may have set its own timer again before throwing; keep the later plan.
        if (attempts < MAX_ATTEMPTS && !this.has(timer.name)) this.set(timer.name, now + RETRY_DELAY_MS, timer.payload, attempts);
      }
      if (ran > 10_000) break; // a handler that keeps rescheduling itself into the past
    }
    this.arm();
    return ran;
  }

  /** Points the alarm at the earliest row, or removes it when there is none. */
  arm(): void {
    const earliest = this.sql.exec<{ due: number | null }>("SELECT MIN(due) AS due FROM timers").one().due;
    if (earliest === this.armed) return;
    this.armed = earliest;
    const done = earliest === null ? this.storage.deleteAlarm() : this.storage.setAlarm(earliest);
    done.catch((err) => log("timer.arm_failed", { error: String(err) }));
  }

  /** After storage.deleteAll(): the alarm is gone with the table. */
  forget(): void {
    this.armed = null;
  }
}

function toTimer<P>(row: Row): Timer<P> {
  return {
    name: row.name,
    due: row.due,
    payload: (row.payload === null ? undefined : JSON.parse(row.payload)) as P,
    attempts: row.attempts,
  };
}
