// Stream-TTL is a sliding window (renewed by reads and writes, not by HEAD);
// Stream-Expires-At is fixed. A stream with neither gets STREAM_DEFAULT_TTL_S, if set.
import type { StreamMeta } from "./store";

type Lifetime = Pick<StreamMeta, "ttlS" | "expiresAt" | "touchedAt">;

/** The sliding window in seconds, or null when the stream has a fixed expiry or none. */
export function slidingTtlS(meta: Lifetime, defaultTtlS: number): number | null {
  if (meta.expiresAt !== null) return null;
  return meta.ttlS ?? (defaultTtlS > 0 ? defaultTtlS : null);
}

/** When the stream expires (epoch ms), or null if it never does. */
export function expiryOf(meta: Lifetime, defaultTtlS: number): number | null {
  if (meta.expiresAt !== null) return meta.expiresAt;
  const ttl = slidingTtlS(meta, defaultTtlS);
  return ttl === null ? null : meta.touchedAt + ttl * 1000;
}

/**
 * Whether a read or write at `now` should store a new touch time. Renewals are coalesced
 * so that a busy stream does not pay a storage write and an alarm move per request: at
 * most one a second, or one per thousandth of the window for long ones (a 7-day TTL moves
 * every 10 minutes), and never less often than four times per window.
 */
export function renewalDue(meta: Lifetime, now: number, defaultTtlS: number): boolean {
  const ttl = slidingTtlS(meta, defaultTtlS);
  if (ttl === null) return false;
  const windowMs = ttl * 1000;
  return now - meta.touchedAt >= Math.min(windowMs / 4, Math.max(1000, windowMs / 1000));
}
