/**
 * Heartbeat bookkeeping. A client shows it is alive by sending anything: a frame (the hub
 * stamps `seen` on the attachment) or an auto-answered `{"type":"ping"}`, which never
 * wakes the hub and is visible only as the runtime's auto-response timestamp. That
 * timestamp is on the real clock while the hub runs on its own (injectable) clock, so it
 * is compared with the value remembered at the previous tick: when it has moved, the
 * client pinged since then, and `seen` becomes this tick's time.
 */
export const HEARTBEAT_TIMER = "heartbeat";

/** Silence longer than this many intervals gets a socket closed. */
export const REAP_AFTER_INTERVALS = 2;

export interface Liveness {
  /** Connect time or the last client frame or ping noticed, on the hub's clock. */
  seen?: number;
  /** The auto-response timestamp read at the last tick (real clock, ms). */
  pinged?: number;
}

export interface Verdict {
  reap: boolean;
  /** The liveness to store back on the socket, when it changed. */
  update?: Liveness;
}

export function judge(live: Liveness & { at: number }, pingedAt: Date | null, now: number, intervalMs: number): Verdict {
  let seen = live.seen ?? live.at;
  let update: Liveness | undefined;
  const pinged = pingedAt?.getTime();
  if (pinged !== undefined && pinged !== live.pinged) {
    seen = Math.max(seen, now);
    update = { seen, pinged };
  }
  return { reap: now - seen >= REAP_AFTER_INTERVALS * intervalMs, update };
}
