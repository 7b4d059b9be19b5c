// A room's history must not be something one member can wipe. Each member's messages in
// the log are capped at a share of ROOM_HISTORY: past it, that member's own oldest
// message goes first, compacted in place into a `message:evicted {id, from}` stub. The
// stub keeps its seq, so a resume still sees every seq in order (no gap, no
// `resumed:false`) at ~150 bytes per evicted message. Full messages overall are capped at
// ROOM_HISTORY the same way, oldest first; the log itself keeps HISTORY_ROWS_FACTOR times
// as many rows, so stubs push other members' messages out of resume range only after a
// sustained flood, which the per-user message rate makes long and visible.
import { RoomEvent } from "../protocol";

export const MESSAGE_SHARE_SCHEMA = [
  "CREATE TABLE message_authors (seq INTEGER PRIMARY KEY, user_id TEXT NOT NULL)",
  "CREATE INDEX message_authors_by_user ON message_authors (user_id, seq)",
] as const;

/** Rows the room's log keeps, per ROOM_HISTORY full message: room for the stubs. */
export const HISTORY_ROWS_FACTOR = 4;

export interface ShareLimits {
  /** Full messages kept in all (ROOM_HISTORY). */
  history: number;
  /** Full messages kept per member. */
  perMember: number;
}

export class MessageShares {
  constructor(
    private readonly sql: SqlStorage,
    private readonly limits: ShareLimits,
  ) {}

  /** A message by `user` was logged at `seq`: evict what is now over a share. Answers the seqs compacted. */
  noteMessage(seq: number, user: string): number[] {
    this.sql.exec("INSERT INTO message_authors (seq, user_id) VALUES (?, ?)", seq, user);
    // Rows the log has trimmed since are no longer anyone's share.
    this.sql.exec("DELETE FROM message_authors WHERE seq < (SELECT COALESCE(MIN(seq), 0) FROM events)");
    const evicted: number[] = [];
    const mine = this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM message_authors WHERE user_id = ?", user).one().n;
    if (mine > this.limits.perMember) {
      const oldest = this.sql.exec<{ seq: number }>("SELECT seq FROM message_authors WHERE user_id = ? ORDER BY seq LIMIT 1", user).one();
      evicted.push(this.compact(oldest.seq));
    }
    const total = this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM message_authors").one().n;
    if (total > this.limits.history) {
      evicted.push(this.compact(this.sql.exec<{ seq: number }>("SELECT MIN(seq) AS seq FROM message_authors").one().seq));
    }
    return evicted;
  }

  /** How many full messages `user` has in the log. */
  countOf(user: string): number {
    return this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM message_authors WHERE user_id = ?", user).one().n;
  }

  private compact(seq: number): number {
    const row = this.sql.exec<{ frame: string }>("SELECT frame FROM events WHERE seq = ?", seq).toArray()[0];
    this.sql.exec("DELETE FROM message_authors WHERE seq = ?", seq);
    if (!row) return seq;
    const frame = JSON.parse(row.frame) as { channel?: string; ts: string; data: { id: string; from: string } };
    const stub = {
      type: RoomEvent.MessageEvicted,
      channel: frame.channel,
      seq,
      ts: frame.ts,
      data: { id: frame.data.id, from: frame.data.from },
    };
    this.sql.exec("UPDATE events SET type = ?, frame = ? WHERE seq = ?", RoomEvent.MessageEvicted, JSON.stringify(stub), seq);
    return seq;
  }
}
