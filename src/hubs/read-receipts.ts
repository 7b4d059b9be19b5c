// Read receipts in a room: how far each user has read, as a seq. A client sends `read
// {up_to}` as the user scrolls; everyone in the room hears `read {user, up_to}` at most
// once a second per user (the latest value wins), and a joining socket finds them in the
// snapshot. Receipts never move backwards, so a stale tab cannot un-read a room.
import { HubError } from "../errors";
import type { ReadReceipt, UserRef } from "../protocol";

/** Steps of the room component. */
export const READ_RECEIPTS_SCHEMA = [
  // `sent_*` is what the room last heard for the user; a receipt is pending while up_to > sent_up_to.
  "CREATE TABLE reads (user_id TEXT PRIMARY KEY, name TEXT, up_to INTEGER NOT NULL, at INTEGER NOT NULL, sent_up_to INTEGER NOT NULL DEFAULT 0, sent_at INTEGER NOT NULL DEFAULT 0)",
  "CREATE INDEX reads_by_at ON reads (at)",
];

/** The timer that sends receipts held back by the once-a-second limit. */
export const READS_TIMER = "reads";
/** A user's receipt goes out at most this often. */
export const READ_BROADCAST_MS = 1_000;
/** Users whose receipts a room keeps (the most recent readers), and how many the snapshot shows. */
export const READS_MAX = 1_000;
export const READS_SNAPSHOT_MAX = 100;

type Row = { user_id: string; name: string | null; up_to: number; at: number; sent_up_to: number; sent_at: number };

/** What to do after recording a receipt: send it now, later, or nothing (it did not move). */
export type ReadVerdict = { send: ReadReceipt } | { laterAt: number } | null;

/** Where a room's receipts go: to every socket now, or to READS_TIMER (replacing it, or only if unset). */
export interface ReceiptOutlet {
  send(receipt: ReadReceipt): void;
  timer(at: number, replace: boolean): void;
}

function toReceipt(row: Pick<Row, "user_id" | "name" | "up_to">): ReadReceipt {
  return { user: row.name === null ? { id: row.user_id } : { id: row.user_id, name: row.name }, up_to: row.up_to };
}

export class ReadReceipts {
  constructor(private readonly sql: SqlStorage) {}

  /** The user's stored position (0 when none). */
  upTo(userId: string): number {
    return this.sql.exec<{ up_to: number }>("SELECT up_to FROM reads WHERE user_id = ?", userId).toArray()[0]?.up_to ?? 0;
  }

  /**
   * A `read {up_to}` frame from `user`, in a room whose latest seq is `latest`: stored,
   * then sent now or held for the timer. Answers the user's position after it.
   */
  take(user: UserRef, upTo: number, latest: number, now: number, out: ReceiptOutlet): number {
    if (upTo > latest) throw new HubError("validation_failed", `up_to is after the room's latest seq (${latest})`);
    const verdict = this.record(user, upTo, now);
    if (verdict && "send" in verdict) out.send(verdict.send);
    if (verdict && "laterAt" in verdict) out.timer(verdict.laterAt, false);
    return this.upTo(user.id);
  }

  /** READS_TIMER ran: sends what is due and sets it again for the rest. */
  flush(now: number, out: ReceiptOutlet): void {
    const { receipts, nextAt } = this.takeDue(now);
    for (const receipt of receipts) out.send(receipt);
    if (nextAt !== null) out.timer(nextAt, true);
  }

  /** Stores `upTo` if it moves the user forward, and says when the room should hear of it. */
  record(user: UserRef, upTo: number, now: number): ReadVerdict {
    const written = this.sql.exec(
      `INSERT INTO reads (user_id, name, up_to, at) VALUES (?, ?, ?, ?)
       ON CONFLICT(user_id) DO UPDATE SET name = excluded.name, up_to = excluded.up_to, at = excluded.at WHERE excluded.up_to > reads.up_to`,
      user.id,
      user.name ?? null,
      upTo,
      now,
    ).rowsWritten;
    if (written === 0) return null;
    this.sql.exec("DELETE FROM reads WHERE user_id IN (SELECT user_id FROM reads ORDER BY at DESC LIMIT -1 OFFSET ?)", READS_MAX);
    const row = this.sql.exec<Row>("SELECT * FROM reads WHERE user_id = ?", user.id).one();
    if (row.sent_at + READ_BROADCAST_MS > now) return { laterAt: row.sent_at + READ_BROADCAST_MS };
    this.markSent(row.user_id, row.up_to, now);
    return { send: toReceipt(row) };
  }

  /** Receipts held back that may go out now (marked sent), and when the next one may. */
  takeDue(now: number): { receipts: ReadReceipt[]; nextAt: number | null } {
    const pending = this.sql.exec<Row>("SELECT * FROM reads WHERE up_to > sent_up_to").toArray();
    const receipts: ReadReceipt[] = [];
    let nextAt: number | null = null;
    for (const row of pending) {
      const dueAt = row.sent_at + READ_BROADCAST_MS;
      if (dueAt <= now) {
        this.markSent(row.user_id, row.up_to, now);
        receipts.push(toReceipt(row));
      } else {
        nextAt = nextAt === null ? dueAt : Math.min(nextAt, dueAt);
      }
    }
    return { receipts, nextAt };
  }

  /** The most recent readers' receipts, newest first (the snapshot's `reads`). */
  latest(): ReadReceipt[] {
    return this.sql
      .exec<Row>("SELECT user_id, name, up_to FROM reads ORDER BY at DESC LIMIT ?", READS_SNAPSHOT_MAX)
      .toArray()
      .map(toReceipt);
  }

  private markSent(userId: string, upTo: number, now: number): void {
    this.sql.exec("UPDATE reads SET sent_up_to = ?, sent_at = ? WHERE user_id = ?", upTo, now, userId);
  }
}
