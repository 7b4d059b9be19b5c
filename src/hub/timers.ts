import { log } from "../log";

/**
 * The timer table: every timer a hub needs (heartbeat, stages, watchdog, expiry, log
 * trimming, batch reports) lives here, and the object's one alarm is always set to the
 * earliest due row. Timers are named, so setting one again moves it instead of adding a
 * second: scheduling is idempotent by construction. A timer runs at least once: see runDue.
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

/**
 * Retries back off from RETRY_BASE_MS, doubling, up to RETRY_CAP_MS: a handler whose
 * peer object is down for an hour is tried about once every five minutes, not 700 times.
 */
export const RETRY_BASE_MS = 2_000;
export const RETRY_CAP_MS = 5 * 60_000;

export function retryDelayMs(attempts: number): number {
  return Math.min(RETRY_CAP_MS, RETRY_BASE_MS * 2 ** Math.min(Math.max(attempts - 1, 0), 20));
}

/**
 * A timer that may stop retrying, and why that is safe. Timers without one retry for as
 * long as they fail: their work (an expiry, a watchdog, an outbox flush) must happen.
 */
export interface GiveUp {
  afterAttempts: number;
  why: string;
}

type Row = {
  name: string;
  due: number;
  payload: string | null;
  attempts: number;
};

export class Timers {
  /** What the alarm is set to, as far as this instance knows; undefined = unknown. */
  private armed: number | null | undefined;

  private readonly giveUps = new Map<string, GiveUp>();
  /**
   * name -> due of every row, read once per instance: "is this timer pending, and when?" is
   * asked on every publish, and answering from memory saves statements each time. Only this
   * class writes the table, so the copy stays exact; forget() drops it after a wipe.
   */
  private dueByName: Map<string, number> | undefined;

  /** `stored` is false while the hub has no tables (before its first write, after a wipe). */
  constructor(
    private readonly storage: DurableObjectStorage,
    private readonly sql: SqlStorage,
    private readonly stored: () => boolean = () => true,
  ) {}

  /** Lets timer `name` stop after a number of failed runs (see GiveUp). */
  mayGiveUp(name: string, giveUp: GiveUp): void {
    this.giveUps.set(name, giveUp);
  }

  /** The rows' due times; empty (and not kept) while the hub has no tables. */
  private index(): Map<string, number> {
    if (!this.stored()) return new Map();
    this.dueByName ??= new Map(
      this.sql
        .exec<{ name: string; due: number }>("SELECT name, due FROM timers")
        .toArray()
        .map((row) => [row.name, row.due]),
    );
    return this.dueByName;
  }

  set(name: string, due: number, payload?: unknown, attempts = 0): void {
    this.sql.exec(
      "INSERT INTO timers (name, due, payload, attempts) VALUES (?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET due = excluded.due, payload = excluded.payload, attempts = excluded.attempts",
      name,
      due,
      payload === undefined ? null : JSON.stringify(payload),
      attempts,
    );
    this.index().set(name, due);
    this.arm();
  }

  /** Sets the timer only when it is not already pending (coalescing: the earlier one wins). */
  setIfAbsent(name: string, due: number, payload?: unknown): void {
    if (!this.has(name)) this.set(name, due, payload);
  }

  clear(name: string): void {
    if (!this.index().has(name)) return;
    this.sql.exec("DELETE FROM timers WHERE name = ?", name);
    this.index().delete(name);
    this.arm();
  }

  has(name: string): boolean {
    return this.index().has(name);
  }

  /** When timer `name` is due (a running one: when its lease runs out), or null when none is set. */
  dueOf(name: string): number | null {
    return this.index().get(name) ?? null;
  }

  /**
   * Runs every timer due at `now`, earliest first, on a lease: before its handler runs, a
   * row is pushed forward by the retry delay with its attempt count raised, and that
   * commits before the handler's first await. The row is deleted only once the handler
   * succeeds. So a handler that throws, or an object that dies at any await inside it, is
   * run again when the lease runs out; a repeated alarm finds the row not yet due.
   */
  async runDue(now: number, handle: (timer: Timer) => void | Promise<void>): Promise<number> {
    // The alarm that woke us is gone; forget what we thought was armed.
    this.armed = undefined;
    let ran = 0;
    // A handler may wipe the hub (expiry): its tables are gone, and so is every timer.
    while (this.stored()) {
      const row = this.sql
        .exec<Row>("SELECT name, due, payload, attempts FROM timers WHERE due <= ? ORDER BY due, name LIMIT 1", now)
        .toArray()[0];
      if (!row) break;
      ran += 1;
      const lease = { due: now + retryDelayMs(row.attempts + 1), attempts: row.attempts + 1 };
      this.sql.exec("UPDATE timers SET due = ?, attempts = ? WHERE name = ?", lease.due, lease.attempts, row.name);
      this.index().set(row.name, lease.due);
      this.arm();
      try {
        await handle(toTimer(row));
        // A handler that set its own timer again (a new due, attempts 0) keeps that plan.
        this.deleteLeased(row.name, lease);
      } catch (err) {
        this.failed(row.name, lease, err);
      }
      if (ran > 10_000) break; // a handler that keeps rescheduling itself into the past
    }
    this.arm();
    return ran;
  }

  private deleteLeased(name: string, lease: { due: number; attempts: number }): void {
    // A handler may have wiped the hub (expiry): the row went with the table.
    if (!this.stored()) return;
    const { rowsWritten } = this.sql.exec(
      "DELETE FROM timers WHERE name = ? AND due = ? AND attempts = ?",
      name,
      lease.due,
      lease.attempts,
    );
    if (rowsWritten > 0) this.index().delete(name);
  }

  private failed(name: string, lease: { due: number; attempts: number }, err: unknown): void {
    const giveUp = this.giveUps.get(name);
    if (giveUp && lease.attempts >= giveUp.afterAttempts) {
      this.deleteLeased(name, lease);
      log("timer.gave_up", { name, attempts: lease.attempts, why: giveUp.why, error: String(err) });
      return;
    }
    log("timer.failed", { name, attempts: lease.attempts, retry_at: lease.due, error: String(err) });
  }

  /** Points the alarm at the earliest row, or removes it when there is none. */
  arm(): void {
    let earliest: number | null = null;
    for (const due of this.index().values()) if (earliest === null || due < earliest) earliest = due;
    if (earliest === this.armed) return;
    this.armed = earliest;
    const done = earliest === null ? this.storage.deleteAlarm() : this.storage.setAlarm(earliest);
    done.catch((err) => log("timer.arm_failed", { error: String(err) }));
  }

  /** After storage.deleteAll(): the alarm is gone with the table. */
  forget(): void {
    this.armed = null;
    this.dueByName = undefined;
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
