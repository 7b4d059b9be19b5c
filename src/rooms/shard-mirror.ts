// A shard's copy of its room's event log, in the shard's own `events` table, so a socket
// resuming on a shard replays from it exactly as it would from the root, and the snapshot's
// recent messages read it too. Rows arrive in seq order; a gap stops the copy until the
// missing rows are fetched from the root.
import type { LogRow, ShardItem } from "./shard-protocol";

export interface Applied {
  /** Items to send to this shard's sockets, in order: new logged events and ephemeral frames. */
  live: ShardItem[];
  /** The index of the first item after a missing seq (fetch the missing rows, then go on from it), or null. */
  stoppedAt: number | null;
}

export class ShardMirror {
  // Read once, then kept: this object is the only writer of the copy.
  private cachedEpoch: string | null | undefined;
  private last: number | undefined;

  constructor(
    private readonly sql: SqlStorage,
    private readonly retention: number,
  ) {}

  /** The root's epoch this copy belongs to, or null before the first catch-up. */
  get epoch(): string | null {
    this.cachedEpoch ??= this.sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = 'epoch'").toArray()[0]?.value ?? null;
    return this.cachedEpoch;
  }

  get lastSeq(): number {
    this.last ??= this.sql.exec<{ seq: number | null }>("SELECT MAX(seq) AS seq FROM events").one().seq ?? 0;
    return this.last;
  }

  /**
   * Appends the logged items that follow the copy and passes ephemeral ones through; an
   * item already copied is skipped (a repeat after a fetch), one after a gap stops the rest.
   */
  applyUntilGap(items: readonly ShardItem[]): Applied {
    let last = this.lastSeq;
    const live: ShardItem[] = [];
    for (const [index, item] of items.entries()) {
      if (item.seq === undefined) {
        live.push(item);
        continue;
      }
      if (item.seq <= last) continue;
      if (item.seq !== last + 1) {
        this.trim(last);
        return { live, stoppedAt: index };
      }
      this.insert({ seq: item.seq, type: item.type ?? "", at: item.at ?? 0, frame: item.frame ?? "" });
      last = item.seq;
      live.push(item);
    }
    this.trim(last);
    return { live, stoppedAt: null };
  }

  /** Rows fetched from the root: returns those new to this copy, as items to send on. */
  fill(rows: readonly LogRow[]): ShardItem[] {
    return this.applyUntilGap(rows.map((row) => ({ seq: row.seq, type: row.type, at: row.at, frame: row.frame }))).live;
  }

  /** Replaces the whole copy: the root's epoch changed, or this copy fell too far behind. */
  replace(epoch: string, rows: readonly LogRow[]): void {
    this.sql.exec("DELETE FROM events");
    this.sql.exec("INSERT INTO meta (key, value) VALUES ('epoch', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", epoch);
    this.cachedEpoch = epoch;
    this.last = 0;
    for (const row of rows) this.insert(row);
  }

  private insert(row: LogRow): void {
    this.sql.exec("INSERT OR IGNORE INTO events (seq, type, at, frame) VALUES (?, ?, ?, ?)", row.seq, row.type, row.at, row.frame);
    this.last = Math.max(this.lastSeq, row.seq);
  }

  private trim(last: number): void {
    this.sql.exec("DELETE FROM events WHERE seq <= ?", last - this.retention);
  }
}

/** The root's side: rows after `seq` (at most `limit`), oldest first. */
export function rowsAfter(sql: SqlStorage, seq: number, limit: number): LogRow[] {
  return sql.exec<LogRow>("SELECT seq, type, at, frame FROM events WHERE seq > ? ORDER BY seq LIMIT ?", seq, limit).toArray();
}
