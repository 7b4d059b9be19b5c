// A stream's storage in its object's SQLite: one metadata row, one row per append, the
// idempotent producers' state and the forks that still reference this stream. Tables are
// created by the first PUT, so a read or write of an unknown path stores nothing.
import { migrateAll } from "../hub/migrations";
import { TIMERS_SCHEMA } from "../hub/timers";
import { isJsonType } from "./headers";
import type { Position } from "./offsets";
import { START } from "./offsets";
import type { Readers } from "./operation";
import type { ProducerState } from "./producers";

const STREAM_SCHEMA = [
  `CREATE TABLE stream_meta (singleton INTEGER PRIMARY KEY CHECK (singleton = 1), path TEXT NOT NULL,
    incarnation TEXT NOT NULL, content_type TEXT NOT NULL, ttl_s INTEGER, expires_at INTEGER, readers TEXT,
    fork_from TEXT, fork_offset TEXT, fork_sub_offset INTEGER, created_at INTEGER NOT NULL, touched_at INTEGER NOT NULL,
    closed INTEGER NOT NULL DEFAULT 0, stream_seq TEXT, gone INTEGER NOT NULL DEFAULT 0)`,
  "CREATE TABLE stream_appends (seq INTEGER PRIMARY KEY, end_pos INTEGER NOT NULL, messages INTEGER NOT NULL, data BLOB NOT NULL)",
  "CREATE TABLE stream_producers (id TEXT PRIMARY KEY, epoch INTEGER NOT NULL, last_seq INTEGER NOT NULL, touched_at INTEGER NOT NULL)",
  "CREATE TABLE stream_forks (path TEXT PRIMARY KEY)",
];
const TABLES = ["stream_meta", "stream_appends", "stream_producers", "stream_forks"];

export interface ForkOrigin {
  from: string;
  offset: string;
  subOffset: number;
}

export interface StreamMeta {
  path: string;
  /** New on every creation: ETags of a deleted and re-created stream never collide. */
  incarnation: string;
  contentType: string;
  json: boolean;
  ttlS: number | null;
  expiresAt: number | null;
  readers: Readers | null;
  fork: ForkOrigin | null;
  createdAt: number;
  /** Last read or write: a Stream-TTL counts from here. */
  touchedAt: number;
  closed: boolean;
  streamSeq: string | null;
  /** Deleted or expired while forks still reference it: answers 410 until they are gone. */
  gone: boolean;
}

export type NewStream = Omit<StreamMeta, "json" | "closed" | "streamSeq" | "gone">;

export interface AppendRow {
  seq: number;
  endPos: number;
  messages: number;
  data: Uint8Array;
}

type MetaRow = Record<string, string | number | null>;
type DataRow = { seq: number; end_pos: number; messages: number; data: ArrayBuffer };

export class StreamStore {
  private cached: StreamMeta | null | undefined;
  private tailCache: Position | undefined;
  /**
   * Producers' state as stored, read once each: an idempotent producer's every append asks
   * for it. Only this class writes the table, so the copy stays exact; forget() drops it.
   */
  private readonly producers = new Map<string, ProducerState>();

  constructor(private readonly storage: DurableObjectStorage) {}

  private get sql(): SqlStorage {
    return this.storage.sql;
  }

  /** Null when no stream lives here (never created, deleted, or its creation is unfinished). */
  meta(): StreamMeta | null {
    if (this.cached === undefined) this.cached = this.hasTables() ? this.loadMeta() : null;
    return this.cached;
  }

  /** Whether any stream was ever created here (tables exist), whatever has happened since. */
  hasTables(): boolean {
    return this.sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'stream_meta'").toArray().length > 0;
  }

  private loadMeta(): StreamMeta | null {
    const r = this.sql.exec<MetaRow>("SELECT * FROM stream_meta").toArray()[0];
    if (!r) return null;
    const readers = r.readers === null ? null : (JSON.parse(r.readers as string) as Readers);
    const fork =
      r.fork_from === null
        ? null
        : { from: r.fork_from as string, offset: r.fork_offset as string, subOffset: r.fork_sub_offset as number };
    return {
      path: r.path as string,
      incarnation: r.incarnation as string,
      contentType: r.content_type as string,
      json: isJsonType(r.content_type as string),
      ttlS: r.ttl_s as number | null,
      expiresAt: r.expires_at as number | null,
      readers,
      fork,
      createdAt: r.created_at as number,
      touchedAt: r.touched_at as number,
      closed: r.closed === 1,
      streamSeq: r.stream_seq as string | null,
      gone: r.gone === 1,
    };
  }

  /** Prepares empty tables: a creation that died half-way (a fork's copy) leaves rows behind. */
  prepare(): void {
    migrateAll(this.storage, [
      { component: "stream", steps: STREAM_SCHEMA },
      { component: "timers", steps: TIMERS_SCHEMA },
    ]);
    for (const table of TABLES) this.sql.exec(`DELETE FROM ${table}`);
    this.forget();
  }

  /** The metadata row is written last: until then the stream does not exist for readers. */
  publish(stream: NewStream): void {
    this.sql.exec(
      `INSERT INTO stream_meta (singleton, path, incarnation, content_type, ttl_s, expires_at, readers, fork_from, fork_offset,
        fork_sub_offset, created_at, touched_at) VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      stream.path,
      stream.incarnation,
      stream.contentType,
      stream.ttlS,
      stream.expiresAt,
      stream.readers === null ? null : JSON.stringify(stream.readers),
      stream.fork?.from ?? null,
      stream.fork?.offset ?? null,
      stream.fork?.subOffset ?? null,
      stream.createdAt,
      stream.touchedAt,
    );
    this.cached = undefined;
  }

  tail(): Position {
    if (this.tailCache === undefined) {
      const row = this.sql
        .exec<{ seq: number; end_pos: number }>("SELECT seq, end_pos FROM stream_appends ORDER BY seq DESC LIMIT 1")
        .toArray()[0];
      this.tailCache = row ? { seq: row.seq, pos: row.end_pos } : START;
    }
    return this.tailCache;
  }

  /** Stores one append after the tail; returns the new tail. */
  append(data: Uint8Array, messages: number): Position {
    const tail = this.tail();
    const next = { seq: tail.seq + 1, pos: tail.pos + data.byteLength };
    this.sql.exec("INSERT INTO stream_appends (seq, end_pos, messages, data) VALUES (?, ?, ?, ?)", next.seq, next.pos, messages, data);
    this.tailCache = next;
    return next;
  }

  /** Rows copied from a fork's source keep their numbers, so offsets mean the same in both. */
  copy(rows: readonly AppendRow[]): void {
    for (const r of rows)
      this.sql.exec("INSERT INTO stream_appends (seq, end_pos, messages, data) VALUES (?, ?, ?, ?)", r.seq, r.endPos, r.messages, r.data);
    this.tailCache = undefined;
  }

  /** A position an append ends at (or the start): the only offsets a read may name. */
  isBoundary(p: Position): boolean {
    if (p.seq === 0) return p.pos === 0;
    return this.sql.exec("SELECT 1 FROM stream_appends WHERE seq = ? AND end_pos = ?", p.seq, p.pos).toArray().length > 0;
  }

  /** Appends after `from`, at least one, then more while they fit in `budget` bytes. */
  readFrom(from: Position, budget: number): { rows: AppendRow[]; next: Position } {
    const rows: AppendRow[] = [];
    let size = 0;
    let next = from;
    const cursor = this.sql.exec<DataRow>("SELECT seq, end_pos, messages, data FROM stream_appends WHERE seq > ? ORDER BY seq", from.seq);
    for (const r of cursor) {
      if (rows.length > 0 && size + r.data.byteLength > budget) break;
      rows.push({ seq: r.seq, endPos: r.end_pos, messages: r.messages, data: new Uint8Array(r.data) });
      size += r.data.byteLength;
      next = { seq: r.seq, pos: r.end_pos };
    }
    return { rows, next };
  }

  update(fields: Partial<Pick<StreamMeta, "touchedAt" | "closed" | "streamSeq" | "gone">>): void {
    const columns: Record<string, unknown> = {
      touched_at: fields.touchedAt,
      closed: fields.closed === undefined ? undefined : fields.closed ? 1 : 0,
      stream_seq: fields.streamSeq,
      gone: fields.gone === undefined ? undefined : fields.gone ? 1 : 0,
    };
    const set = Object.entries(columns).filter(([, value]) => value !== undefined);
    if (set.length === 0) return;
    this.sql.exec(`UPDATE stream_meta SET ${set.map(([c]) => `${c} = ?`).join(", ")}`, ...set.map(([, value]) => value));
    this.cached = undefined;
  }

  producer(id: string): ProducerState | undefined {
    const known = this.producers.get(id);
    if (known) return known;
    const r = this.sql
      .exec<{ epoch: number; last_seq: number }>("SELECT epoch, last_seq FROM stream_producers WHERE id = ?", id)
      .toArray()[0];
    if (!r) return undefined;
    const state = { epoch: r.epoch, lastSeq: r.last_seq };
    this.producers.set(id, state);
    return state;
  }

  saveProducer(id: string, state: ProducerState, now: number): void {
    this.sql.exec(
      "INSERT INTO stream_producers (id, epoch, last_seq, touched_at) VALUES (?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET epoch = excluded.epoch, last_seq = excluded.last_seq, touched_at = excluded.touched_at",
      id,
      state.epoch,
      state.lastSeq,
      now,
    );
    this.producers.set(id, state);
  }

  /** Room for one more producer, forgetting those idle since `idleBefore` if that makes room. */
  hasRoomForProducer(limit: number, idleBefore: number): boolean {
    const count = () => this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM stream_producers").one().n;
    if (count() < limit) return true;
    this.sql.exec("DELETE FROM stream_producers WHERE touched_at < ?", idleBefore);
    this.producers.clear();
    return count() < limit;
  }

  addFork(path: string): void {
    this.sql.exec("INSERT OR IGNORE INTO stream_forks (path) VALUES (?)", path);
  }

  /** Returns how many forks still reference this stream. */
  removeFork(path: string): number {
    this.sql.exec("DELETE FROM stream_forks WHERE path = ?", path);
    return this.forkCount();
  }

  forkCount(): number {
    return this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM stream_forks").one().n;
  }

  /** Soft delete: the data goes, the metadata and the fork references stay (410 until released). */
  keepTombstone(): void {
    this.sql.exec("DELETE FROM stream_appends");
    this.sql.exec("DELETE FROM stream_producers");
    this.update({ gone: true });
    this.tailCache = undefined;
    this.producers.clear();
  }

  /** After storage.deleteAll() or prepare(): nothing cached is true any more. */
  forget(): void {
    this.cached = undefined;
    this.tailCache = undefined;
    this.producers.clear();
  }
}
