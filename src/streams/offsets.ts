// Offsets and cursors. An offset is "<appends>_<bytes>": how many appends and how many
// stored bytes precede the position, each as 16 zero-padded digits. Both only grow, so
// offsets sort lexicographically, and both are plain facts stored with each append, so
// they survive eviction and restart unchanged. A fork copies its source's prefix with the
// same numbers, so an offset read from the source means the same position in the fork.

const DIGITS = 16;
const OFFSET = /^(\d{16})_(\d{16})$/;

export interface Position {
  /** Appends before this position (the `seq` of the append that ends here; 0 at the start). */
  seq: number;
  /** Stored bytes before this position. */
  pos: number;
}

export const START: Position = { seq: 0, pos: 0 };

export function formatOffset(p: Position): string {
  return `${String(p.seq).padStart(DIGITS, "0")}_${String(p.pos).padStart(DIGITS, "0")}`;
}

/** Null for anything that is not an offset this hub could have produced. */
export function parseOffset(raw: string): Position | null {
  const match = OFFSET.exec(raw);
  if (!match) return null;
  return { seq: Number(match[1]), pos: Number(match[2]) };
}

export function samePosition(a: Position, b: Position): boolean {
  return a.seq === b.seq && a.pos === b.pos;
}

/** `offset` query values: "-1" (the start, also when absent), "now" (the tail) or an offset. */
export type ReadFrom = { kind: "start" } | { kind: "now" } | { kind: "at"; position: Position };

// Cursors (protocol section 8.1): 20-second intervals counted from 2024-10-09T00:00:00Z.
// A client that echoes a cursor at or past the current interval gets a strictly larger
// one, jittered by 1-3600 s, so a CDN never serves one cached empty answer forever.
const CURSOR_EPOCH_MS = Date.UTC(2024, 9, 9);
const CURSOR_INTERVAL_MS = 20_000;
const MAX_JITTER_INTERVALS = 3600_000 / CURSOR_INTERVAL_MS;

export function nextCursor(now: number, echoed: string | undefined, random: () => number = Math.random): string {
  const current = Math.floor((now - CURSOR_EPOCH_MS) / CURSOR_INTERVAL_MS);
  const previous = echoed === undefined ? Number.NaN : Number(echoed);
  if (!Number.isSafeInteger(previous) || previous < current) return String(current);
  return String(previous + 1 + Math.floor(random() * MAX_JITTER_INTERVALS));
}

export const CURSOR_PATTERN = /^\d{1,15}$/;
