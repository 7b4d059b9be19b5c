import type { ServerFrame } from "../protocol";

/** Tables the event log needs; part of the "hub" component's migrations. */
export const EVENT_LOG_SCHEMA = [
  "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
  // The serialized frame is stored so a replay sends byte-for-byte what live sockets got.
  "CREATE TABLE events (seq INTEGER PRIMARY KEY, type TEXT NOT NULL, at INTEGER NOT NULL, frame TEXT NOT NULL)",
  // Events this object published and their deliveries to live sockets, running totals with
  // this event included: the channel's counts ride on the row a publish writes anyway (the
  // newest row, which is always kept, holds them) instead of a second write per publish.
  // Rows stored before, and a room shard's copies of its room's rows, carry 0.
  "ALTER TABLE events ADD COLUMN published_total INTEGER NOT NULL DEFAULT 0",
  "ALTER TABLE events ADD COLUMN delivered_total INTEGER NOT NULL DEFAULT 0",
];

/** What the log has counted (see the totals columns): events published here and deliveries to live sockets. */
export interface DeliveryTotals {
  published: number;
  delivered: number;
}

export interface LoggedEvent {
  seq: number;
  frame: string;
}

/**
 * A channel's ordered event log. `seq` grows by one per event; `epoch` names this run of
 * the log, and changes whenever the log restarts (a channel expired and was recreated),
 * so a client holding a seq from an older epoch can never resume into the wrong history.
 */
export class EventLog {
  private cachedEpoch: string | undefined;
  private cachedChannel: string | undefined;
  private cachedSeq: number | undefined;
  private cachedTotals: DeliveryTotals | undefined;

  /**
   * `stored` says whether the hub's tables exist yet: a hub creates them on its first
   * write, so until then the log reads as empty and touches nothing.
   */
  constructor(
    private readonly sql: SqlStorage,
    private readonly retention: number,
    private readonly stored: () => boolean,
    private readonly replayMaxBytes = Number.POSITIVE_INFINITY,
  ) {
    this.cachedEpoch = this.readMeta("epoch");
  }

  private get seq(): number {
    if (this.cachedSeq === undefined) this.readNewest();
    return this.cachedSeq as number;
  }

  /** seq and the totals, from the newest row (all 0 for an empty or unstored log). */
  private readNewest(): void {
    const newest = this.stored()
      ? this.sql
          .exec<{ seq: number; published: number; delivered: number }>(
            "SELECT seq, published_total AS published, delivered_total AS delivered FROM events ORDER BY seq DESC LIMIT 1",
          )
          .toArray()[0]
      : undefined;
    this.cachedSeq = newest?.seq ?? 0;
    this.cachedTotals = { published: newest?.published ?? 0, delivered: newest?.delivered ?? 0 };
  }

  /** Events published and deliveries counted by this log (see DeliveryTotals). */
  deliveryTotals(): DeliveryTotals {
    if (this.cachedTotals === undefined) this.readNewest();
    return this.cachedTotals as DeliveryTotals;
  }

  private set seq(value: number) {
    this.cachedSeq = value;
  }

  /** The channel this log belongs to ("job:42"), or "" before the first bind. */
  get channel(): string {
    // Cached: it is read on every frame, and it changes only on bind and on reload.
    this.cachedChannel ??= this.readMeta("channel") ?? "";
    return this.cachedChannel;
  }

  bind(channel: string): void {
    if (this.channel !== channel) this.writeMeta("channel", channel);
    this.cachedChannel = channel;
  }

  get lastSeq(): number {
    return this.seq;
  }

  /** The epoch, created on first use (so reading a never-used channel writes once). */
  get epoch(): string {
    if (!this.cachedEpoch) {
      this.cachedEpoch = crypto.randomUUID().replaceAll("-", "").slice(0, 16);
      this.writeMeta("epoch", this.cachedEpoch);
    }
    return this.cachedEpoch;
  }

  /**
   * Logs an event that goes live to `delivered` sockets. `retainKey` marks an event whose
   * value the channel also keeps (see RetainedValues).
   */
  append(type: string, data: unknown, now: number, delivered: number, retainKey?: string): LoggedEvent {
    const seq = this.seq + 1;
    this.epoch; // an event always belongs to an epoch
    const frame: ServerFrame = { type, channel: this.channel, seq, ts: new Date(now).toISOString(), data };
    if (retainKey !== undefined) frame.retain_key = retainKey;
    const text = JSON.stringify(frame);
    const before = this.deliveryTotals();
    const totals = { published: before.published + 1, delivered: before.delivered + delivered };
    this.sql.exec(
      "INSERT INTO events (seq, type, at, frame, published_total, delivered_total) VALUES (?, ?, ?, ?, ?, ?)",
      seq,
      type,
      now,
      text,
      totals.published,
      totals.delivered,
    );
    this.cachedTotals = totals;
    // Trimming keeps MAX(seq) (the newest row always survives), so seq never resets.
    this.sql.exec("DELETE FROM events WHERE seq <= ?", seq - this.retention);
    this.seq = seq;
    return { seq, frame: text };
  }

  /**
   * Frames after `since`, or null when the request cannot be served exactly: another
   * epoch, a seq from the future, events already trimmed, or more than REPLAY_MAX_BYTES
   * to send (one resume must not cost megabytes; the snapshot is the cheaper answer).
   * `epoch` may be omitted only with since=0 ("I have nothing yet").
   */
  replayAfter(since: number | undefined, epoch: string | undefined): string[] | null {
    if (since === undefined) return null;
    if (epoch === undefined ? since !== 0 : epoch !== this.cachedEpoch) return null;
    if (since > this.seq) return null;
    if (since === this.seq) return [];
    const first = this.sql.exec<{ seq: number | null }>("SELECT MIN(seq) AS seq FROM events").one().seq;
    if (first === null || since < first - 1) return null;
    const frames: string[] = [];
    let bytes = 0;
    // Streams rows and stops at the budget, so a refused replay never loads the whole log.
    for (const row of this.sql.exec<{ frame: string }>("SELECT frame FROM events WHERE seq > ? ORDER BY seq", since)) {
      bytes += utf8Length(row.frame);
      if (bytes > this.replayMaxBytes) return null;
      frames.push(row.frame);
    }
    return frames;
  }

  /** Drops events older than `cutoff` (ms), always keeping the newest for its seq. */
  trimBefore(cutoff: number): void {
    this.sql.exec("DELETE FROM events WHERE at < ? AND seq < ?", cutoff, this.seq);
  }

  /** When the oldest event that trimBefore could still drop was logged, or null. */
  oldestTrimmableAt(): number | null {
    return this.sql.exec<{ at: number | null }>("SELECT MIN(at) AS at FROM events WHERE seq < ?", this.seq).one().at;
  }

  /** When the newest event was logged, or null (trimming always keeps the newest). */
  newestAt(): number | null {
    return this.sql.exec<{ at: number | null }>("SELECT MAX(at) AS at FROM events").one().at;
  }

  /** Re-reads seq and epoch after the storage under the log was wiped: a new epoch follows. */
  reload(): void {
    this.cachedChannel = undefined;
    this.cachedEpoch = this.readMeta("epoch");
    this.cachedSeq = undefined;
    this.cachedTotals = undefined;
  }

  readMeta(key: string): string | undefined {
    if (!this.stored()) return undefined;
    return this.sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = ?", key).toArray()[0]?.value;
  }

  writeMeta(key: string, value: string): void {
    this.sql.exec("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", key, value);
  }
}

/** UTF-8 bytes of `text`; most frames are ASCII, which needs no encoding to count. */
function utf8Length(text: string): number {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the ASCII range is the point
  return /^[\x00-\x7f]*$/.test(text) ? text.length : new TextEncoder().encode(text).length;
}
