import { DurableObject } from "cloudflare:workers";
import { fail, type Outcome, ok } from "../errors";
import { migrate } from "../hub/migrations";
import type { DeadLetter, WebhookEventType, WebhookPayload } from "../protocol";

/** Dead letters kept, across all channels; the oldest go first past it. */
export const DEAD_LETTERS_MAX = 10_000;
/** And for how long. */
export const DEAD_LETTER_TTL_MS = 30 * 86_400_000;

/** An event a channel gave up on, as the channel hands it over. */
export interface DeadLetterEntry {
  id: string;
  channel: string;
  type: string;
  /** The exact body the receiver would have got; a replay sends it again. */
  body: string;
  queuedAt: number;
  failedAt: number;
  attempts: number;
  lastError: string;
}

type Row = {
  id: string;
  channel: string;
  type: string;
  body: string;
  queued_at: number;
  failed_at: number;
  attempts: number;
  last_error: string;
};

/**
 * Every channel's dead letters in one place (one object, "global"), so a backend can list
 * them without knowing which channels failed. A channel hands an event over here and only
 * then forgets it, so a crash in between repeats the hand-over, never loses it.
 */
export class DeadLetters extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    migrate(ctx.storage, "dead_letters", [
      "CREATE TABLE dead_letters (n INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, channel TEXT NOT NULL, type TEXT NOT NULL, body TEXT NOT NULL, queued_at INTEGER NOT NULL, failed_at INTEGER NOT NULL, attempts INTEGER NOT NULL, last_error TEXT NOT NULL)",
      "CREATE INDEX dead_letters_by_channel ON dead_letters (channel, n)",
    ]);
  }

  record(entries: DeadLetterEntry[]): Outcome<{ recorded: number }> {
    for (const e of entries) {
      this.sql.exec(
        `INSERT INTO dead_letters (id, channel, type, body, queued_at, failed_at, attempts, last_error) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(id) DO UPDATE SET failed_at = excluded.failed_at, attempts = excluded.attempts, last_error = excluded.last_error`,
        e.id,
        e.channel,
        e.type,
        e.body,
        e.queuedAt,
        e.failedAt,
        e.attempts,
        e.lastError,
      );
    }
    const newest = Math.max(0, ...entries.map((e) => e.failedAt));
    this.sql.exec("DELETE FROM dead_letters WHERE failed_at < ?", newest - DEAD_LETTER_TTL_MS);
    this.sql.exec(
      "DELETE FROM dead_letters WHERE n IN (SELECT n FROM dead_letters ORDER BY n LIMIT MAX(0, (SELECT COUNT(*) FROM dead_letters) - ?))",
      DEAD_LETTERS_MAX,
    );
    return ok({ recorded: entries.length });
  }

  /** Oldest first; `after` is the last id of the previous page. */
  list(options: { channel?: string; after?: string; limit: number }): Outcome<{ failed: DeadLetter[]; total: number; next?: string }> {
    const after = options.after
      ? this.sql.exec<{ n: number }>("SELECT n FROM dead_letters WHERE id = ?", options.after).toArray()[0]?.n
      : 0;
    const byChannel = options.channel === undefined ? "" : "AND channel = ?";
    const params = options.channel === undefined ? [] : [options.channel];
    const rows = this.sql
      .exec<Row>(`SELECT * FROM dead_letters WHERE n > ? ${byChannel} ORDER BY n LIMIT ?`, after ?? 0, ...params, options.limit + 1)
      .toArray();
    const total = this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM dead_letters WHERE 1 = 1 ${byChannel}`, ...params).one().n;
    const page = rows.slice(0, options.limit).map(toDeadLetter);
    const last = page[page.length - 1];
    return ok({ failed: page, total, ...(rows.length > options.limit && last ? { next: last.id } : {}) });
  }

  find(id: string): Outcome<DeadLetterEntry> {
    const row = this.sql.exec<Row>("SELECT * FROM dead_letters WHERE id = ?", id).toArray()[0];
    if (!row) return fail("not_found", "no such dead letter");
    return ok({
      id: row.id,
      channel: row.channel,
      type: row.type,
      body: row.body,
      queuedAt: row.queued_at,
      failedAt: row.failed_at,
      attempts: row.attempts,
      lastError: row.last_error,
    });
  }

  remove(id: string): Outcome<{ removed: boolean }> {
    return ok({ removed: this.sql.exec("DELETE FROM dead_letters WHERE id = ?", id).rowsWritten > 0 });
  }
}

function toDeadLetter(row: Row): DeadLetter {
  return {
    id: row.id,
    channel: row.channel,
    type: row.type as WebhookEventType,
    payload: JSON.parse(row.body) as WebhookPayload,
    queued_at: new Date(row.queued_at).toISOString(),
    failed_at: new Date(row.failed_at).toISOString(),
    attempts: row.attempts,
    last_error: row.last_error,
  };
}
