/**
 * Per-socket token bucket for client frames. Kept in memory only: a hub that hibernates
 * forgets its buckets, which is harmless, since an idle socket has a full bucket anyway.
 */
export interface FrameRateLimit {
  perSecond: number;
  burst: number;
  /** Refusals tolerated (within one bucket refill) before the socket is closed with 4008. */
  strikes: number;
}

interface Bucket {
  tokens: number;
  at: number;
  strikes: number;
}

export type FrameVerdict = "ok" | "refuse" | "close";

export class FrameRateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly limit: FrameRateLimit) {}

  check(connectionId: string, now: number): FrameVerdict {
    const { perSecond, burst, strikes } = this.limit;
    let bucket = this.buckets.get(connectionId);
    if (!bucket) {
      bucket = { tokens: burst, at: now, strikes: 0 };
      this.buckets.set(connectionId, bucket);
    }
    bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * perSecond);
    bucket.at = now;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      if (bucket.tokens >= burst / 2) bucket.strikes = 0; // behaving again
      return "ok";
    }
    bucket.strikes += 1;
    return bucket.strikes > strikes ? "close" : "refuse";
  }

  forget(connectionId: string): void {
    this.buckets.delete(connectionId);
  }
}
