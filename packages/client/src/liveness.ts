import type { Timers } from "./types.js";

/**
 * Keeps an open socket honest: a ping every `pingIntervalMs`, and a watchdog that any
 * frame from the hub feeds. Silence for a ping interval plus `pongTimeoutMs` means the
 * connection is dead even though no close event came (a laptop lid, a lost route).
 */
export class Liveness {
  private pingTimer: unknown;
  private watchdog: unknown;

  constructor(
    private readonly timers: Timers,
    private readonly pingIntervalMs: number,
    private readonly pongTimeoutMs: number,
  ) {}

  /** Pings on an interval while `ping` says the socket is open. */
  startPinging(ping: () => boolean): void {
    this.clear("pingTimer");
    this.pingTimer = this.timers.setTimeout(() => {
      this.pingTimer = undefined;
      if (ping()) this.startPinging(ping);
    }, this.pingIntervalMs);
  }

  /** Any frame proves the connection alive; `dead` runs after too long without one. */
  feed(dead: (reason: string) => void): void {
    this.clear("watchdog");
    const limit = this.pingIntervalMs + this.pongTimeoutMs;
    this.watchdog = this.timers.setTimeout(() => {
      this.watchdog = undefined;
      dead(`no pong or heartbeat for ${limit} ms`);
    }, limit);
  }

  stop(): void {
    this.clear("pingTimer");
    this.clear("watchdog");
  }

  private clear(name: "pingTimer" | "watchdog"): void {
    if (this[name] !== undefined) {
      this.timers.clearTimeout(this[name]);
      this[name] = undefined;
    }
  }
}
