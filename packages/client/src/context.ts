// What a connection gets from its client (resolved options) and gives back (hooks).
import type { ConnectedData, ServerFrame } from "../../../src/protocol/index.js";
import type { BackoffOptions } from "./backoff.js";
import type { TokenCache } from "./tokens.js";
import type { SocketFactory, StatusChange, Timers } from "./types.js";

/** Everything a connection needs from its client, resolved from the options. */
export interface ConnectionContext {
  baseUrl: string;
  tokens: TokenCache;
  WebSocket: SocketFactory;
  backoff: BackoffOptions;
  rateLimitedMinMs: number;
  pingIntervalMs: number;
  pongTimeoutMs: number;
  sendTimeoutMs: number;
  timers: Timers;
  random: () => number;
  /** Milliseconds since the epoch: when a token's exp comes, and round-trip times. */
  now: () => number;
  /** The client's latest round-trip time (`client.rtt`), whichever channel measured it. */
  roundTrips: { rttMs?: number };
}

export interface ConnectionHooks {
  /** The `connected` frame; `data.resumed` false means rebuild from `data.snapshot`. */
  connected(data: ConnectedData): void;
  /** Every other frame, each logged seq exactly once and in order. */
  frame(frame: ServerFrame): void;
  status(change: StatusChange): void;
}
