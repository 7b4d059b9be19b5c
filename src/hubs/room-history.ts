// A room's chat history is its event log: the snapshot shows the newest messages and
// GET /v1/rooms/:id/messages pages back through the rest. Pages are cut by seq, so a
// cursor stays valid however many messages arrive while someone reads old ones.
import { type HistoryMessage, type HistoryPage, RoomEvent, type RoomMessage } from "../protocol";

/** Messages per history page: the default, and the most one request may ask for. */
export const HISTORY_PAGE_DEFAULT = 50;
export const HISTORY_PAGE_MAX = 100;

type Row = { seq: number; frame: string };

function toMessage(row: Row): HistoryMessage {
  return { ...(JSON.parse(row.frame) as { data: RoomMessage }).data, seq: row.seq };
}

/** The newest `limit` messages, oldest first (the `connected` snapshot's `messages`). */
export function recentMessages(sql: SqlStorage, limit: number): HistoryMessage[] {
  if (limit <= 0) return [];
  return sql
    .exec<Row>("SELECT seq, frame FROM events WHERE type = ? ORDER BY seq DESC LIMIT ?", RoomEvent.Message, limit)
    .toArray()
    .reverse()
    .map(toMessage);
}

/**
 * Up to `limit` messages logged before seq `before` (all of them when undefined), newest
 * first. When nothing older is left, `end` says whether the log still starts at the
 * room's first event or older messages were trimmed or evicted.
 */
export function messagesBefore(sql: SqlStorage, roomId: string, before: number | undefined, limit: number): HistoryPage {
  // One row more than asked tells whether another page exists without a second query.
  const rows = sql
    .exec<Row>(
      "SELECT seq, frame FROM events WHERE type = ? AND seq < ? ORDER BY seq DESC LIMIT ?",
      RoomEvent.Message,
      before ?? Number.MAX_SAFE_INTEGER,
      limit + 1,
    )
    .toArray();
  const messages = rows.slice(0, limit).map(toMessage);
  if (rows.length > limit) return { room: roomId, messages, next_before: messages.at(-1)?.seq ?? null, end: null };
  const first = sql.exec<{ seq: number | null }>("SELECT MIN(seq) AS seq FROM events").one().seq;
  // A flood's evicted messages (message-shares.ts) are gone from history as much as trimmed ones.
  const evicted =
    sql
      .exec("SELECT 1 FROM events WHERE type = ? AND seq < ? LIMIT 1", RoomEvent.MessageEvicted, before ?? Number.MAX_SAFE_INTEGER)
      .toArray().length > 0;
  return { room: roomId, messages, next_before: null, end: first === null || (first <= 1 && !evicted) ? "start" : "retention" };
}
