/**
 * A channel's webhook outbox: events waiting to reach the backend, in the order they
 * happened, and the channel's own webhook settings. A row is written in the same
 * synchronous stretch as the change it reports, so an event that happened is never
 * without its webhook; it leaves the table only once delivered or handed to the dead
 * letters.
 */
export const OUTBOX_SCHEMA = [
  // `n` is the order of events; `failed_at` marks one given up on and not yet handed over.
  "CREATE TABLE webhook_outbox (n INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, type TEXT NOT NULL, body TEXT NOT NULL, queued_at INTEGER NOT NULL, next_at INTEGER NOT NULL, failures INTEGER NOT NULL DEFAULT 0, last_error TEXT, failed_at INTEGER)",
  "CREATE INDEX webhook_outbox_pending ON webhook_outbox (failed_at, n)",
  "CREATE TABLE webhook_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
];

/** Events one channel may hold undelivered; past it new events are refused (emit) or dropped and logged. */
export const OUTBOX_MAX = 10_000;

export interface QueuedWebhook {
  id: string;
  type: string;
  /** The exact JSON body sent (and signed) on every attempt. */
  body: string;
  queuedAt: number;
  nextAt: number;
  failures: number;
  lastError: string | null;
  failedAt: number | null;
}

type NewWebhook = { id: string; type: string; body: string };

type Row = {
  id: string;
  type: string;
  body: string;
  queued_at: number;
  next_at: number;
  failures: number;
  last_error: string | null;
  failed_at: number | null;
};
const COLUMNS = "id, type, body, queued_at, next_at, failures, last_error, failed_at";

/** `url`: the channel's own webhook_url; `disabled`: set by a 410; `occupied`: the backend was told the channel has sockets. */
type SettingKey = "url" | "disabled" | "occupied";

export class Outbox {
  /** `stored`: the hub's tables exist (they are created on its first write); before that, reads find nothing. */
  constructor(
    private readonly sql: SqlStorage,
    private readonly stored: () => boolean,
  ) {}

  /** False when the channel already holds OUTBOX_MAX undelivered events. */
  add(event: NewWebhook, now: number): boolean {
    if (this.pendingCount() >= OUTBOX_MAX) return false;
    this.insert(event, now);
    return true;
  }

  private insert(event: NewWebhook, now: number): void {
    this.sql.exec(
      "INSERT INTO webhook_outbox (id, type, body, queued_at, next_at) VALUES (?, ?, ?, ?, ?)",
      event.id,
      event.type,
      event.body,
      now,
      now,
    );
  }

  /** The oldest event not given up on: the only one that may be sent (per-channel order). */
  head(): QueuedWebhook | null {
    const row = this.sql.exec<Row>(`SELECT ${COLUMNS} FROM webhook_outbox WHERE failed_at IS NULL ORDER BY n LIMIT 1`).toArray()[0];
    return row ? toQueued(row) : null;
  }

  pendingCount(): number {
    return this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM webhook_outbox WHERE failed_at IS NULL").one().n;
  }

  remove(id: string): void {
    this.sql.exec("DELETE FROM webhook_outbox WHERE id = ?", id);
  }

  retryAt(id: string, at: number, failures: number, error: string): void {
    this.sql.exec("UPDATE webhook_outbox SET next_at = ?, failures = ?, last_error = ? WHERE id = ?", at, failures, error, id);
  }

  /** Gives up on one event, or on every pending one when `id` is omitted. */
  giveUp(id: string | undefined, error: string, now: number, failures?: number): void {
    const where = id === undefined ? "failed_at IS NULL" : "id = ?";
    this.sql.exec(
      `UPDATE webhook_outbox SET failed_at = ?, last_error = ?, failures = COALESCE(?, failures) WHERE ${where}`,
      now,
      error,
      failures ?? null,
      ...(id === undefined ? [] : [id]),
    );
  }

  /** Events given up on and not yet handed to the dead letters, oldest first. */
  givenUp(limit: number): QueuedWebhook[] {
    return this.sql
      .exec<Row>(`SELECT ${COLUMNS} FROM webhook_outbox WHERE failed_at IS NOT NULL ORDER BY n LIMIT ?`, limit)
      .toArray()
      .map(toQueued);
  }

  /** Puts an event back at the end of the queue, to be tried at once with a fresh window. */
  requeue(event: NewWebhook, now: number): void {
    this.sql.exec("DELETE FROM webhook_outbox WHERE id = ?", event.id);
    this.insert(event, now);
  }

  setting(key: SettingKey): string | undefined {
    if (!this.stored()) return undefined;
    return this.sql.exec<{ value: string }>("SELECT value FROM webhook_settings WHERE key = ?", key).toArray()[0]?.value;
  }

  setSetting(key: SettingKey, value: string | null): void {
    if (value === null) this.sql.exec("DELETE FROM webhook_settings WHERE key = ?", key);
    else
      this.sql.exec(
        "INSERT INTO webhook_settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        key,
        value,
      );
  }
}

function toQueued(row: Row): QueuedWebhook {
  return {
    id: row.id,
    type: row.type,
    body: row.body,
    queuedAt: row.queued_at,
    nextAt: row.next_at,
    failures: row.failures,
    lastError: row.last_error,
    failedAt: row.failed_at,
  };
}
