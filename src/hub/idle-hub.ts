// Channels that nobody owns the end of (rooms, users) are deleted once idle: no socket and
// no activity for their idle TTL. The timer is set on a channel's first use and, when it
// fires, moves itself to the last activity + TTL until the channel has really been idle
// that long; activity itself costs no write beyond the event it logs.
import type { Attachment } from "./connections";
import { Hub } from "./hub";
import type { Timer } from "./timers";

export const IDLE_TIMER = "idle";
const LAST_ACTIVE = "last_active";

export abstract class IdleExpiringHub<Snapshot, Events extends object> extends Hub<Snapshot, Events> {
  /** How long the channel may stay idle (ROOM_IDLE_TTL_S, USER_IDLE_TTL_S). */
  protected abstract idleTtlMs(): number;

  /** A time before which the channel must be kept whatever its activity (0: none). */
  protected idleHold(_now: number): number {
    return 0;
  }

  protected override bindChannel(channel: string): void {
    super.bindChannel(channel);
    this.touchIdle();
  }

  /** Makes sure the idle check will run; the channel was just used. */
  protected touchIdle(): void {
    this.timers.setIfAbsent(IDLE_TIMER, this.now() + this.idleTtlMs());
  }

  /** Activity that logs no event (a room's settings, the last socket leaving). */
  protected noteActivity(): void {
    this.events.writeMeta(LAST_ACTIVE, String(this.now()));
    this.touchIdle();
  }

  protected override onLeave(_ws: WebSocket, who: Attachment): void {
    if (this.sockets.attachments().every((other) => other.cid === who.cid)) this.noteActivity();
  }

  protected override onTimer(timer: Timer): void | Promise<void> {
    if (timer.name !== IDLE_TIMER) return super.onTimer(timer);
    const now = this.now();
    const ttl = this.idleTtlMs();
    if (this.sockets.count() > 0) return this.timers.set(IDLE_TIMER, now + ttl);
    const last = Math.max(this.events.newestAt() ?? 0, Number(this.events.readMeta(LAST_ACTIVE) ?? 0));
    const until = Math.max(last + ttl, this.idleHold(now));
    if (now < until) return this.timers.set(IDLE_TIMER, until);
    return this.wipe(`idle for ${Math.round(ttl / 1000)} s`);
  }
}
