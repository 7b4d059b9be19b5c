// The client's token: one cache for every channel, and the refresh that replaces it on
// open sockets before it expires, so a long-lived tab never has to reconnect for it.

import { DovetailError } from "./codes.js";
import type { ConnectionContext } from "./context.js";
import type { AckPayload } from "./requests.js";

/** The hub closes a socket at its token's exp (plus a grace): refresh this long ahead, at most. */
const MAX_LEAD_MS = 60_000;
const MIN_LEAD_MS = 5_000;

/** A JWT's `exp` in ms, or undefined when the token is not a JWT with one (then nothing is scheduled). */
export function tokenExpiry(token: string): number | undefined {
  const payload = token.split(".")[1];
  if (!payload) return undefined;
  try {
    const json = atob(payload.replaceAll("-", "+").replaceAll("_", "/"));
    const exp = (JSON.parse(json) as { exp?: unknown }).exp;
    return typeof exp === "number" && Number.isFinite(exp) ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Ahead of the token's exp (a fifth of what is left, between 5 and 60 s before), asks the
 * token function for a new one and sends it as an `auth` frame; the hub moves the socket's
 * deadline and acks. If anything fails, nothing else is tried: the hub closes the socket
 * with 4001 at expiry, and the reconnect path refreshes the token as it always does.
 */
export class TokenRefresher {
  private timer: unknown;

  constructor(
    private readonly ctx: Pick<ConnectionContext, "tokens" | "timers" | "now">,
    private readonly send: (token: string) => Promise<AckPayload>,
    private readonly refreshed: (token: string) => void,
  ) {}

  schedule(token: string): void {
    this.stop();
    const exp = tokenExpiry(token);
    if (!this.ctx.tokens.refreshable || exp === undefined) return;
    const left = exp - this.ctx.now();
    const lead = Math.min(MAX_LEAD_MS, Math.max(MIN_LEAD_MS, left / 5));
    this.timer = this.ctx.timers.setTimeout(
      () => {
        this.timer = undefined;
        void this.refresh(token, exp);
      },
      Math.max(0, left - lead),
    );
  }

  stop(): void {
    if (this.timer === undefined) return;
    this.ctx.timers.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async refresh(old: string, oldExp: number): Promise<void> {
    try {
      const fresh = await this.ctx.tokens.refresh(old);
      // A token function that hands back the same token (or an older one) would loop.
      if ((tokenExpiry(fresh) ?? 0) <= oldExp) return;
      await this.send(fresh);
      this.refreshed(fresh);
      this.schedule(fresh);
    } catch {
      // See above: expiry closes with 4001 and the reconnect refreshes.
    }
  }
}

/** One token for every channel of a client; one fetch however many channels hit a 4001. */
export class TokenCache {
  private value: string | undefined;
  private inflight: Promise<string> | undefined;

  constructor(private readonly source: string | (() => string | Promise<string>)) {
    if (typeof source === "string") this.value = source;
  }

  get refreshable(): boolean {
    return typeof this.source === "function";
  }

  get(): Promise<string> {
    return this.value !== undefined ? Promise.resolve(this.value) : this.fetch();
  }

  /** A new token, unless another channel already replaced the rejected one. */
  refresh(rejected: string | undefined): Promise<string> {
    if (this.value !== undefined && this.value !== rejected) return Promise.resolve(this.value);
    this.value = undefined;
    return this.fetch();
  }

  private fetch(): Promise<string> {
    const source = this.source;
    if (typeof source === "string") return Promise.resolve(source);
    this.inflight ??= Promise.resolve()
      .then(source)
      .then(
        (token) => {
          this.inflight = undefined;
          if (typeof token !== "string" || token === "") throw new DovetailError("unauthorized", "the token function returned no token");
          this.value = token;
          return token;
        },
        (err) => {
          this.inflight = undefined;
          throw err;
        },
      );
    return this.inflight;
  }
}
