// Round-trip time from the client's own pings. The ping is the exact text the hub's
// auto-response answers without waking its object, so the send time stays here rather
// than in the frame (a timestamped frame would wake the object, and be billed, each time).
// Pongs come back in order, so the next pong answers the oldest ping still out.
import { PING_FRAME } from "../../../src/protocol/index.js";
import type { SocketLike, StatusChange } from "./types.js";

export class RoundTrip {
  private sentAt: number | undefined;
  rttMs: number | undefined;

  /** `latest` is shared by every channel of a client: `client.rtt`. */
  constructor(
    private readonly now: () => number,
    private readonly latest: { rttMs?: number },
  ) {}

  ping(ws: SocketLike): void {
    this.sentAt ??= this.now();
    ws.send(PING_FRAME);
  }

  /** A pong arrived: true when it measured a round trip. */
  pong(): boolean {
    if (this.sentAt === undefined) return false;
    this.rttMs = Math.max(0, this.now() - this.sentAt);
    this.latest.rttMs = this.rttMs;
    this.sentAt = undefined;
    return true;
  }

  /** The socket is gone: a pong from it will never come. */
  forget(): void {
    this.sentAt = undefined;
  }

  /** `change` carrying the latest round trip, once there is one. */
  stamp(change: StatusChange): StatusChange {
    return this.rttMs === undefined ? change : { ...change, rttMs: this.rttMs };
  }
}
