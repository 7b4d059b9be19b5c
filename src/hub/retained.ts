// Retained values: the latest value of an event per key, kept next to the log so a socket
// that joins sees the current like count in its `connected` snapshot instead of waiting
// for the next change (Pusher's cache channels, Ably's rewind). The events themselves stay
// in the log, so resume still replays them.
import type { RetainedValue } from "../protocol";
import type { LoggedEvent } from "./event-log";

/** Steps of the owning hub's component ("user", "room"). */
export const RETAINED_SCHEMA = [
  // `bytes` is what the value costs the snapshot; `seq` orders values for "oldest first".
  "CREATE TABLE retained (key TEXT PRIMARY KEY, type TEXT NOT NULL, data TEXT NOT NULL, seq INTEGER NOT NULL, at INTEGER NOT NULL, bytes INTEGER NOT NULL)",
  "CREATE INDEX retained_by_seq ON retained (seq)",
];

export interface RetainedBounds {
  /** Values kept per channel. */
  maxValues: number;
  /** Bytes kept per channel, counting each value's key, type and JSON data. */
  maxBytes: number;
}

/** What a producer asks for: `retain: true` keeps one value per type, `retain_key` one per key. */
export interface RetainRequest {
  type: string;
  retain?: boolean;
  retain_key?: string;
}

/** The key an event is retained under, or undefined when it is not retained. */
export function retainKeyOf(event: RetainRequest): string | undefined {
  if (event.retain_key !== undefined) return event.retain_key;
  return event.retain === true ? event.type : undefined;
}

type Row = { key: string; type: string; data: string; seq: number; at: number };

export class RetainedValues {
  constructor(
    private readonly sql: SqlStorage,
    private readonly bounds: RetainedBounds,
  ) {}

  /**
   * Why a value can never be kept (it would push itself out), or null when it can. Asked
   * before the event is published, so an event is never logged without its value.
   */
  refusalFor(event: RetainRequest & { data?: unknown }): string | null {
    const key = retainKeyOf(event);
    if (key === undefined) return null;
    const bytes = sizeOf(key, event.type, event.data ?? null);
    return bytes > this.bounds.maxBytes ? `a retained value may be at most ${this.bounds.maxBytes} bytes (this one is ${bytes})` : null;
  }

  /**
   * Replaces the value under `key`, then drops the oldest values (by the seq that last set
   * them) until both bounds hold. Call it with no await after the event's append, so the
   * event and its value commit together.
   */
  keep(key: string, type: string, data: unknown, seq: number, at: number): void {
    this.sql.exec(
      "INSERT INTO retained (key, type, data, seq, at, bytes) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET type = excluded.type, data = excluded.data, seq = excluded.seq, at = excluded.at, bytes = excluded.bytes",
      key,
      type,
      JSON.stringify(data ?? null),
      seq,
      at,
      sizeOf(key, type, data),
    );
    this.sql.exec(
      "DELETE FROM retained WHERE key IN (SELECT key FROM retained ORDER BY seq DESC LIMIT -1 OFFSET ?)",
      this.bounds.maxValues,
    );
    // A running total, newest first: every value past the byte budget goes.
    this.sql.exec(
      `DELETE FROM retained WHERE key IN (
         SELECT key FROM (SELECT key, SUM(bytes) OVER (ORDER BY seq DESC) AS total FROM retained) WHERE total > ?)`,
      this.bounds.maxBytes,
    );
  }

  /** Every value, keyed; the snapshot's `retained`. */
  all(): Record<string, RetainedValue> {
    const out: Record<string, RetainedValue> = {};
    for (const row of this.sql.exec<Row>("SELECT key, type, data, seq, at FROM retained ORDER BY seq").toArray()) {
      out[row.key] = { type: row.type, data: JSON.parse(row.data), seq: row.seq, ts: new Date(row.at).toISOString() };
    }
    return out;
  }
}

function sizeOf(key: string, type: string, data: unknown): number {
  const encoder = new TextEncoder();
  return encoder.encode(key).length + encoder.encode(type).length + encoder.encode(JSON.stringify(data ?? null)).length;
}

/**
 * Publishes a producer's event and, when it asks to be retained, keeps its value, with no
 * await between the append and the value so they commit together. Ask `refusalFor` first,
 * so nothing is logged for a value that cannot be kept.
 */
export function publishRetained(
  retained: RetainedValues,
  event: RetainRequest & { data?: unknown },
  now: number,
  publish: (retainKey: string | undefined) => LoggedEvent,
): LoggedEvent {
  const key = retainKeyOf(event);
  const logged = publish(key);
  if (key !== undefined) retained.keep(key, event.type, event.data ?? null, logged.seq, now);
  return logged;
}
