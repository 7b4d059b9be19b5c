// Live readers (long-poll requests and SSE responses) held open in a StreamHub. They live
// in memory only: each one is an open HTTP request, so an eviction ends them all, and the
// client resumes from the last offset it received.

/** "left": the reader's own request was aborted (its client went away). */
export type Wake = "changed" | "timeout" | "gone" | "left";

interface Waiter {
  resolve: (wake: Wake) => void;
  timer: ReturnType<typeof setTimeout>;
}

export class LiveReaders {
  private readonly waiters = new Set<Waiter>();

  /** `onNotify` hears every change too (the stream's sockets, which do not wait here). */
  constructor(private readonly onNotify: (wake: "changed" | "gone") => void = () => {}) {}
  /** Open live requests, waiting or not: what STREAM_MAX_LIVE_READERS bounds. */
  private open = 0;

  get count(): number {
    return this.open;
  }

  /** Takes a slot for a live request, or returns false when the stream has none left. */
  enter(limit: number): boolean {
    if (this.open >= limit) return false;
    this.open += 1;
    return true;
  }

  leave(): void {
    this.open = Math.max(0, this.open - 1);
  }

  /** Resolves on the next append, close or delete, after `timeoutMs`, or when `signal` aborts. */
  wait(timeoutMs: number, signal?: AbortSignal): Promise<Wake> {
    if (signal?.aborted) return Promise.resolve("left");
    return new Promise((resolve) => {
      const onAbort = () => waiter.resolve("left");
      const waiter: Waiter = {
        resolve: (wake) => {
          clearTimeout(waiter.timer);
          signal?.removeEventListener("abort", onAbort);
          this.waiters.delete(waiter);
          resolve(wake);
        },
        timer: setTimeout(() => waiter.resolve("timeout"), Math.max(0, timeoutMs)),
      };
      signal?.addEventListener("abort", onAbort);
      this.waiters.add(waiter);
    });
  }

  /** New data or a close: every waiter reads again from its own offset. */
  notify(wake: "changed" | "gone" = "changed"): void {
    for (const waiter of [...this.waiters]) waiter.resolve(wake);
    this.onNotify(wake);
  }
}
