// When a failed webhook is tried again, and when it is given up on. Pure: the outbox
// applies it. Every figure is a multiple of the first delay (WEBHOOK_RETRY_BASE_MS), so
// the whole schedule shrinks with it and a test can run 24 hours of retries in seconds.

/** Each retry waits this many times longer than the one before. */
export const RETRY_FACTOR = 4;
/** No single wait is longer than this many first delays: 8 h at the default 5 s. */
export const MAX_DELAY_MULTIPLE = 5_760;
/** An event is tried for this many first delays after it was queued: 24 h at 5 s. */
export const RETRY_WINDOW_MULTIPLE = 17_280;
/** Each wait is stretched or shrunk by up to this fraction, so receivers that come back are not hit by every hub at once. */
export const JITTER = 0.2;

export interface FailedAttempt {
  /** Failed attempts of this event so far, this one included (1 after the first). */
  failures: number;
  /** When the event was queued (ms). */
  queuedAt: number;
  now: number;
  baseMs: number;
  /** A number in [0, 1): Math.random() in production, fixed in tests. */
  random: number;
}

export type RetryDecision = { retryAt: number } | { deadLetter: true };

/** The wait before the next attempt, without jitter: base x 4^(failures-1), capped. */
export function plainDelay(failures: number, baseMs: number): number {
  return baseMs * Math.min(RETRY_FACTOR ** Math.max(0, failures - 1), MAX_DELAY_MULTIPLE);
}

/**
 * After a failed attempt: try again after the jittered delay, but never later than the end
 * of the event's window (so the last attempt lands on it); once the window is over, the
 * event is dead-lettered.
 */
export function afterFailure({ failures, queuedAt, now, baseMs, random }: FailedAttempt): RetryDecision {
  const deadline = queuedAt + baseMs * RETRY_WINDOW_MULTIPLE;
  if (now >= deadline) return { deadLetter: true };
  const jittered = plainDelay(failures, baseMs) * (1 - JITTER + 2 * JITTER * random);
  return { retryAt: Math.min(now + Math.max(1, Math.round(jittered)), deadline) };
}

/** The attempt times of an event whose receiver never answers 2xx, without jitter (for the docs and tests). */
export function schedule(baseMs: number): number[] {
  const times = [0];
  for (let failures = 1; ; failures++) {
    const decision = afterFailure({ failures, queuedAt: 0, now: times[times.length - 1] as number, baseMs, random: 0.5 });
    if ("deadLetter" in decision) return times;
    times.push(decision.retryAt);
  }
}
