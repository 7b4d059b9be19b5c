// The one `event_id` memory: producers retry with the same event_id, and get the first
// answer back instead of a second event. Every hub has the table (the base migrates it).

export const EVENT_ID_SCHEMA = [
  "CREATE TABLE event_ids (event_id TEXT PRIMARY KEY, response TEXT NOT NULL, at INTEGER NOT NULL)",
  // Forgetting old ids deletes by age; the index keeps that a range delete.
  "CREATE INDEX event_ids_by_at ON event_ids (at)",
];

/** How long an event_id is remembered: longer than any producer's retries. */
export const EVENT_ID_MEMORY_MS = 7 * 24 * 3600 * 1000;

/**
 * Migration steps that move a hub's older per-hub dedupe table into `event_ids`;
 * `response` is a SQL expression over that table's columns giving the answer as JSON.
 */
export function moveIntoEventIds(table: string, response: string): string[] {
  return [`INSERT OR IGNORE INTO event_ids (event_id, response, at) SELECT event_id, ${response}, at FROM ${table}`, `DROP TABLE ${table}`];
}

/** Forgetting old ids is a range delete; once an hour per instance is plenty. */
const FORGET_EVERY_MS = 3600 * 1000;

export class EventIdMemory {
  /** When this instance last forgot old ids (0: not yet, so its first remember() does). */
  private forgotAt = 0;

  constructor(private readonly sql: SqlStorage) {}

  /** The answer given the first time `eventId` was seen, if it was. */
  recall<T>(eventId: string): T | undefined {
    const row = this.sql.exec<{ response: string }>("SELECT response FROM event_ids WHERE event_id = ?", eventId).toArray()[0];
    return row ? (JSON.parse(row.response) as T) : undefined;
  }

  /** Remembers the answer for at least EVENT_ID_MEMORY_MS (older ids go within the hour after). */
  remember(eventId: string, response: unknown, now: number): void {
    this.sql.exec("INSERT INTO event_ids (event_id, response, at) VALUES (?, ?, ?)", eventId, JSON.stringify(response), now);
    if (now - this.forgotAt < FORGET_EVERY_MS) return;
    this.sql.exec("DELETE FROM event_ids WHERE at < ?", now - EVENT_ID_MEMORY_MS);
    this.forgotAt = now;
  }
}
