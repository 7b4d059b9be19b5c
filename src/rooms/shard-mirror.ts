// A shard's copy of its room's event log, in the shard's own `events` table, so a socket
// resuming on a shard replays from it exactly as it would from the root, and the snapshot's
// recent messages read it too. Rows arrive in seq order; a gap stops the copy until the
// missing rows are fetched from the root.
import type { LogRow, ShardItem } from "./shard-protocol";

export interface Applied {
  /** Items to send to this shard's sockets, in order: new logged events and ephemeral frames. */
  live: ShardItem[];
  /** Set when a logged item came after a missing seq: rows after `gapAfter` must be fetched. */
  gapAfter: number | null;
}

export class ShardMirror {
  constructor(
    private readonly sql: SqlStorage,
    private readonly retention: number,
  ) {}

  get lastSeq(): number {
    return this.sql.exec<{ seq: number | null }>("SELECT MAX(seq) AS seq FROM events").one().seq ?? 0;
  }

  /**
   * Appends the logged items that follow the copy and passes ephemeral ones through; an
   * item already copied is skipped (a repeat after a fetch), one after a gap stops the rest.
   */
  apply(items: readonly ShardItem[]): Applied {
    let last = this.lastSeq;
    const live: ShardItem[] = [];
    for (const item of items) {
      if (item.seq === undefined) {
        live.push(item);
        continue;
      }
      if (item.seq <= last) continue;
      if (item.seq !== last + 1) return { live, gapAfter: last };
      this.insert({ seq: item.seq, type: item.type ?? "", at: item.at ?? 0, frame: item.frame });
      last = item.seq;
      live.push(item);
    }
    this.trim(last);
    return { live, gapAfter: null };
  }

  /** Rows fetched from the root after a gap: returns the frames now new to this copy. */
  fill(rows: readonly LogRow[]): ShardItem[] {
    return this.apply(rows.map((row) => ({ seq: row.seq, type: row.type, at: row.at, frame: row.frame }))).live;
  }

  /** Replaces the whole copy: the root's epoch changed, or this copy fell too far behind. */
  replace(epoch: string, rows: readonly LogRow[]): void {
    this.sql.exec("DELETE FROM events");
    this.sql.exec("INSERT INTO meta (key, value) VALUES ('epoch', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", epoch);
    for (const row of rows) this.insert(row);
  }

  private insert(row: LogRow): void {
    this.sql.exec("INSERT OR IGNORE INTO events (seq, type, at, frame) VALUES (?, ?, ?, ?)", row.seq, row.type, row.at, row.frame);
  }

  private trim(last: number): void {
    this.sql.exec("DELETE FROM events WHERE seq <= ?", last - this.retention);
  }
}

/** The root's side: rows after `seq` (at most `limit`), oldest first. */
export function rowsAfter(sql: SqlStorage, seq: number, limit: number): LogRow[] {
  return sql.exec<LogRow>("SELECT seq, type, at, frame FROM events WHERE seq > ? ORDER BY seq LIMIT ?", seq, limit).toArray();
}
