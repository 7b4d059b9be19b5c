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
 * to at most one write a second (sooner for windows under 4 s), so a busy stream does
 * not pay a storage write and an alarm move per request.
 */
export function renewalDue(meta: Lifetime, now: number, defaultTtlS: number): boolean {
  const ttl = slidingTtlS(meta, defaultTtlS);
  return ttl !== null && now - meta.touchedAt >= Math.min(1000, ttl * 250);
}
