import type { Notification, NotificationReadData } from "../protocol";

/** The inbox table; steps of the "user" component (see UserHub.schema). */
export const INBOX_SCHEMA = [
  // `n` orders notifications as they arrived (created_at can tie); `body` is the
  // Notification as first delivered, so a list shows exactly what sockets got.
  "CREATE TABLE notifications (n INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, seq INTEGER NOT NULL, created_at INTEGER NOT NULL, read INTEGER NOT NULL DEFAULT 0, body TEXT NOT NULL)",
  "CREATE INDEX notifications_by_read ON notifications (read, n)",
];

/** The snapshot carries at most this many unread notifications; `unread_count` counts all. */
export const SNAPSHOT_UNREAD_MAX = 50;

export interface InboxBounds {
  max: number;
  ttlMs: number;
}

export interface StoredNotification {
  notification: Notification;
  seq: number;
}

/**
 * A user's notifications until read or expired, bounded by count and age. Expiry runs on
 * every use rather than from a timer: an inbox nobody reads costs nothing until it is read.
 */
export class Inbox {
  constructor(
    private readonly sql: SqlStorage,
    private readonly bounds: InboxBounds,
  ) {}

  find(id: string): StoredNotification | undefined {
    const row = this.sql.exec<Row>("SELECT body, read, seq FROM notifications WHERE id = ?", id).toArray()[0];
    return row ? { notification: fromRow(row), seq: row.seq } : undefined;
  }

  add(notification: Notification, seq: number, now: number): void {
    this.sql.exec(
      "INSERT INTO notifications (id, seq, created_at, read, body) VALUES (?, ?, ?, 0, ?)",
      notification.id,
      seq,
      now,
      JSON.stringify(notification),
    );
    this.expire(now);
    // Over the count bound, read ones go first (oldest first), then the oldest unread.
    this.sql.exec(
      `DELETE FROM notifications WHERE n IN (
         SELECT n FROM notifications ORDER BY read DESC, n ASC
         LIMIT MAX(0, (SELECT COUNT(*) FROM notifications) - ?))`,
      this.bounds.max,
    );
  }

  /** Marks the given ids read; answers those that were unread (unknown ids are ignored). */
  markRead(ids: string[], now: number): string[] {
    this.expire(now);
    const changed: string[] = [];
    for (const id of new Set(ids)) {
      if (this.sql.exec("UPDATE notifications SET read = 1 WHERE id = ? AND read = 0", id).rowsWritten > 0) changed.push(id);
    }
    return changed;
  }

  /** Marks every unread notification read; answers the ids that changed, oldest first. */
  markAllRead(now: number): string[] {
    this.expire(now);
    const ids = this.sql
      .exec<{ id: string }>("SELECT id FROM notifications WHERE read = 0 ORDER BY n")
      .toArray()
      .map((row) => row.id);
    this.sql.exec("UPDATE notifications SET read = 1 WHERE read = 0");
    return ids;
  }

  /** Newest first. */
  list(options: { unreadOnly: boolean; limit: number }, now: number): Notification[] {
    this.expire(now);
    const where = options.unreadOnly ? "WHERE read = 0" : "";
    return this.sql
      .exec<Row>(`SELECT body, read, seq FROM notifications ${where} ORDER BY n DESC LIMIT ?`, options.limit)
      .toArray()
      .map(fromRow);
  }

  unreadCount(now: number): number {
    this.expire(now);
    return this.sql.exec<{ count: number }>("SELECT COUNT(*) AS count FROM notifications WHERE read = 0").one().count;
  }

  private expire(now: number): void {
    this.sql.exec("DELETE FROM notifications WHERE created_at < ?", now - this.bounds.ttlMs);
  }
}

type Row = { body: string; read: number; seq: number };

function fromRow(row: Row): Notification {
  return { ...(JSON.parse(row.body) as Notification), read: row.read === 1 };
}

/** Which notifications to mark read: some ids, or every one. */
export type ReadSelection = { ids: string[] } | "all";
/** The ids that became read, the unread count after, and the seq of `notification:read` if one went out. */
export interface ReadResult {
  ids: string[];
  unread_count: number;
  seq?: number;
}

/**
 * Marks `which` read. When anything changed, `announce` logs `notification:read` (so a
 * device that was offline learns of it on resume) to every socket, the asking one
 * included (so none sees a gap in seq), with the unread count after, so every badge agrees.
 */
export function readNotifications(
  inbox: Inbox,
  which: ReadSelection,
  now: number,
  announce: (data: NotificationReadData) => number,
): ReadResult {
  const ids = which === "all" ? inbox.markAllRead(now) : inbox.markRead(which.ids, now);
  const unread_count = inbox.unreadCount(now);
  if (ids.length === 0) return { ids, unread_count };
  const data: NotificationReadData = { ids, ...(which === "all" ? { all: true as const } : {}), unread_count };
  return { ids, unread_count, seq: announce(data) };
}

/**
 * Notification ids share the event_id memory under a prefix of their own: "/" is not an
 * id character, so no product event_id can collide with one.
 */
export function notificationKey(id: string): string {
  return `notification/${id}`;
}
