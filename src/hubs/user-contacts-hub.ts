// The who-is-online side of a user's hub: whom the user watches, who watches the user,
// the calls between user hubs, and the offline timer. UserHub extends it and tells it
// when the user's first socket on any channel opens and the last one closes (its session
// registry, the same source as the user.online / user.offline webhooks).
import { type Outcome, ok } from "../errors";
import { IdleExpiringHub } from "../hub/idle-hub";
import type { Timer } from "../hub/timers";
import type { ContactStatus, UserEvents, UserSnapshot } from "../protocol";
import { Contacts } from "./contacts";
import { OFFLINE_TIMER, WhoIsOnline } from "./who-is-online";

export abstract class UserContactsHub extends IdleExpiringHub<UserSnapshot, UserEvents> {
  protected readonly online: WhoIsOnline;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.online = new WhoIsOnline(new Contacts(this.sql), {
      self: () => this.channel.slice("user:".length),
      openSockets: () => (this.stored ? this.socketsAnywhere() : 0),
      send: (type, data) => this.sockets.broadcast(this.frame(type, data)),
      now: () => this.now(),
      setTimerIfAbsent: (name, due, payload) => this.timers.setIfAbsent(name, due, payload),
      clearTimer: (name) => this.timers.clear(name),
      waitUntil: (work) => this.ctx.waitUntil(work),
      peer: (userId) => this.env.USER_HUB.getByName(userId),
      offlineDelayMs: this.config.offlineDelayMs,
    });
  }

  /** The user's open sockets on every channel. */
  protected abstract socketsAnywhere(): number;

  /** Kept while a contact (online, so registered here) watches the user. */
  protected override idleHold(now: number): number {
    const watched = this.stored ? this.online.lastWatchedAt() : null;
    return Math.max(super.idleHold(now), watched === null ? 0 : watched + this.idleTtlMs());
  }

  /** PUT /v1/users/:id/contacts: whose online status this user sees. */
  setContacts(userId: string, contacts: string[]): Outcome<{ user: string; contacts: string[] }> {
    this.bindChannel(`user:${userId}`);
    return ok({ user: userId, contacts: this.online.setContacts(contacts) });
  }

  /** GET /v1/presence asks the asker's hub which of `ids` it may not see. */
  notContacts(ids: string[]): Outcome<string[]> {
    return ok(this.stored ? this.online.notWatched(ids) : ids);
  }

  /** GET /v1/presence: this user's status as contacts see it. */
  contactStatus(userId: string): Outcome<ContactStatus> {
    return ok(this.stored ? this.online.status(userId) : { user: { id: userId }, online: false, last_seen: null });
  }

  // Calls between user hubs: `watcher`, online now, watches `userId` (this hub's user).
  addWatcher(userId: string, watcher: string): void {
    this.bindChannel(`user:${userId}`);
    this.online.watchedBy(watcher, this.now());
  }

  removeWatcher(watcher: string): void {
    if (this.stored) this.online.unwatchedBy(watcher);
  }

  contactChanged(status: ContactStatus): boolean {
    return this.stored && this.online.contactChanged(status);
  }

  protected override onTimer(timer: Timer): void | Promise<void> {
    if (timer.name !== OFFLINE_TIMER) return super.onTimer(timer);
    this.online.offlineDue((timer.payload as { at: number }).at);
  }
}
