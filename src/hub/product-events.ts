/**
 * The table for producers' `event_id` dedupe on user and room channels (issue 3): a step
 * in each hub's own component, so anything that re-runs a hub's migrations recreates it.
 */
export const PUBLISHED_EVENTS_TABLE =
  "CREATE TABLE published_events (event_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, at INTEGER NOT NULL)";

/** How long an event_id is remembered: long enough for any producer's retries. */
const EVENT_ID_MEMORY_MS = 7 * 24 * 3600 * 1000;

/** The seq an event_id was first published at, if it was. */
export function publishedSeq(sql: SqlStorage, eventId: string): number | undefined {
  return sql.exec<{ seq: number }>("SELECT seq FROM published_events WHERE event_id = ?", eventId).toArray()[0]?.seq;
}

export function rememberPublished(sql: SqlStorage, eventId: string, seq: number, now: number): void {
  sql.exec("INSERT INTO published_events (event_id, seq, at) VALUES (?, ?, ?)", eventId, seq, now);
  sql.exec("DELETE FROM published_events WHERE at < ?", now - EVENT_ID_MEMORY_MS);
}
