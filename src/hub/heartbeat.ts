import type { Connections } from "./connections";
import type { Timers } from "./timers";

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

/**
 * The heartbeat of one hub: one timer for all its sockets while any is open. Each beat
 * closes the sockets whose token has expired (past `exp` plus the grace), reaps the silent
 * ones and sends `heartbeat` to the others. The timer is brought forward to the earliest
 * token deadline, so expiry needs no timer of its own, let alone one per socket.
 */
export class Heartbeats {
  constructor(
    private readonly ctx: DurableObjectState,
    private readonly sockets: Connections,
    private readonly timers: Timers,
    private readonly intervalMs: number,
    private readonly graceMs: number,
  ) {}

  /** A socket joined at `at` (with a token that expires at `exp`): beats run from then on. */
  start(at: number, exp?: number): void {
    this.timers.setIfAbsent(HEARTBEAT_TIMER, at + this.intervalMs);
    if (exp !== undefined) this.bringForward(exp + this.graceMs);
  }

  /** A socket's token deadline moved (or a new socket has one): beat no later than it. */
  bringForward(due: number): void {
    const pending = this.timers.dueOf(HEARTBEAT_TIMER);
    if (pending === null || pending > due) this.timers.set(HEARTBEAT_TIMER, due);
  }

  /** The last socket left. */
  stop(): void {
    this.timers.clear(HEARTBEAT_TIMER);
  }

  /** A client frame proves its socket alive; restamping more than a few times an interval buys nothing. */
  noteTraffic(ws: WebSocket, who: Liveness & { at: number }, now: number): void {
    if (now - (who.seen ?? who.at) >= this.intervalMs / 4) this.sockets.update(ws, { seen: now });
  }

  /**
   * The timer fired. `expire` closes a socket whose token is past its deadline, `reap` a
   * silent one; answers how many stay open.
   */
  beat(now: number, frame: string, reap: (ws: WebSocket, reason: string) => void, expire: (ws: WebSocket) => void): number {
    const reason = `no client traffic for ${(REAP_AFTER_INTERVALS * this.intervalMs) / 1000} s`;
    let open = 0;
    let next = now + this.intervalMs;
    for (const ws of this.sockets.open()) {
      const who = this.sockets.attachmentOf(ws);
      if (who.exp !== undefined && who.exp + this.graceMs <= now) {
        expire(ws);
        continue;
      }
      if (who.exp !== undefined) next = Math.min(next, who.exp + this.graceMs);
      const verdict = judge(who, this.ctx.getWebSocketAutoResponseTimestamp(ws), now, this.intervalMs);
      if (verdict.reap) {
        reap(ws, reason);
        continue;
      }
      if (verdict.update) ws.serializeAttachment({ ...who, ...verdict.update });
      open += 1;
    }
    if (open === 0) return 0;
    this.sockets.broadcast(frame);
    this.timers.set(HEARTBEAT_TIMER, next);
    return open;
  }
}
