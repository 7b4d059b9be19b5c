export interface BackoffOptions {
  /** The ceiling of the first retry's delay. */
  baseMs: number;
  /** No delay is ever longer than this. */
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 500, maxMs: 30_000 };

/** The largest delay attempt `n` (0-based) may draw: base * 2^n, capped. */
export function backoffCeiling(attempt: number, options: BackoffOptions): number {
  return Math.min(options.maxMs, options.baseMs * 2 ** Math.min(Math.max(attempt, 0), 30));
}

/**
 * Full jitter: uniform in [0, ceiling). Spreads a crowd of clients dropped by the same
 * deploy over the whole window instead of having them return in lockstep.
 */
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  const r = Math.min(Math.max(random(), 0), 0.999_999);
  return Math.floor(r * backoffCeiling(attempt, options));
}
