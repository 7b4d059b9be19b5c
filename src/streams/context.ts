import type { StreamLimits } from "../config";
import type { StreamSource } from "./forks";
import type { LiveReaders } from "./live";
import type { KeyedQueue } from "./producers";
import type { StreamMeta, StreamStore } from "./store";
import type { WriteBatch } from "./write-batch";

/** What the request handlers of a StreamHub work with. */
export interface StreamContext {
  readonly store: StreamStore;
  readonly live: LiveReaders;
  readonly limits: StreamLimits;
  /** Serialises one producer's appends ("producer:<id>") and all creations ("create"). */
  readonly queue: KeyedQueue;
  /** Appends' synchronous halves, run together so they share one commit. */
  readonly writes: WriteBatch;
  now(): number;
  /**
   * The stream this object holds, or null. Expires it first if its time has come, so
   * every request sees expiry on time whether or not the alarm has run yet.
   */
  current(): StreamMeta | null;
  /** A read or a write renews a sliding Stream-TTL (HEAD does not). */
  touch(): void;
  /** Moves the expiry timer to the stream's current expiry. */
  scheduleExpiry(): void;
  /** Drops everything this object stored (a creation that failed half-way). */
  discard(): Promise<void>;
  /** The object holding another stream, for forks. */
  source(path: string): StreamSource;
}

/** Catch-up reads and each SSE data event carry at most this much (and at least one append). */
export const READ_BUDGET_BYTES = 1_048_576;
