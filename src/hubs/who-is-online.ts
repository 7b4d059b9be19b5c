// Who is online, between user hubs. A user is online while they have a socket on any
// channel (their session registry says so). While online they register as a watcher with
// each user they watch; when a watched user comes online or goes offline, their hub tells
// each registered watcher's hub, which sends `user:online` / `user:offline` to the
// watcher's open user sockets. Going offline waits OFFLINE_DELAY_S after the last socket
// closes, so a page reload is not seen as offline-then-online.
import { log } from "../log";
import { type ContactStatus, UserEvent, type UserRef } from "../protocol";
import type { Contacts } from "./contacts";

/** The timer that announces a user offline once their last socket has stayed closed long enough. */
export const OFFLINE_TIMER = "offline";

/** The other user hubs, as this one calls them. */
export interface WatchPeer {
  addWatcher(userId: string, watcher: string): Promise<unknown>;
  removeWatcher(watcher: string): Promise<unknown>;
  contactChanged(status: ContactStatus): Promise<boolean>;
}

/** What WhoIsOnline needs from the hub that holds it. */
export interface OnlineHost {
  /** This hub's user id ("" before the channel is bound). */
  self(): string;
  /** The user's open sockets on every channel. */
  openSockets(): number;
  /** Sends an ephemeral frame to every open socket of this user's own channel. */
  send(type: typeof UserEvent.ContactOnline | typeof UserEvent.ContactOffline, data: ContactStatus): void;
  now(): number;
  /** Sets the timer unless it is already set: the first time the user went to no socket counts. */
  setTimerIfAbsent(name: string, due: number, payload: unknown): void;
  clearTimer(name: string): void;
  waitUntil(work: Promise<unknown>): void;
  peer(userId: string): WatchPeer;
  offlineDelayMs: number;
}

export class WhoIsOnline {
  constructor(
    private readonly contacts: Contacts,
    private readonly host: OnlineHost,
  ) {}

  /** A socket of this user opened, on any channel; `claims` is its token's `watch` list. */
  joined(user: UserRef, claims: readonly string[]): void {
    const newlyWatched = this.contacts.claim(claims.filter((id) => id !== user.id));
    const state = this.contacts.state();
    if (state.online) {
      // Back within the delay (a reload) or another tab: nobody hears anything.
      this.host.clearTimer(OFFLINE_TIMER);
      if (state.name !== (user.name ?? null)) this.contacts.setState({ ...state, name: user.name ?? null });
      this.register(newlyWatched);
      return;
    }
    this.contacts.setState({ online: true, lastSeen: null, name: user.name ?? null });
    this.register(this.contacts.watched());
    this.announce();
  }

  /** The user's last socket on any channel closed (or a re-count found none): again changes nothing. */
  left(): void {
    if (!this.contacts.state().online) return;
    const now = this.host.now();
    if (this.host.offlineDelayMs === 0) this.goOffline(now);
    else this.host.setTimerIfAbsent(OFFLINE_TIMER, now + this.host.offlineDelayMs, { at: now });
  }

  /** The offline timer: still no socket, so the user is offline as of `lastSeen`. */
  offlineDue(lastSeen: number): void {
    if (this.host.openSockets() === 0) this.goOffline(lastSeen);
  }

  private goOffline(lastSeen: number): void {
    const state = this.contacts.state();
    if (!state.online) return;
    this.contacts.setState({ online: false, lastSeen, name: state.name });
    const watched = this.contacts.watched();
    this.contacts.forgetClaims();
    this.unregister(watched);
    this.announce();
  }

  /** PUT /v1/users/:id/contacts: while online, register with the new contacts and leave the old. */
  setContacts(ids: string[]): string[] {
    const { added, removed } = this.contacts.replace(ids);
    if (this.contacts.state().online) {
      this.register(added);
      this.unregister(removed);
    }
    return this.contacts.listed();
  }

  /** The ids of `ids` this user may not see: neither a contact nor in a `watch` claim. */
  notWatched(ids: string[]): string[] {
    return this.contacts.unwatched(ids);
  }

  /** Another user, online now, watches this one. */
  watchedBy(watcher: string, now: number): void {
    this.contacts.addWatcher(watcher, now);
  }

  unwatchedBy(watcher: string): void {
    this.contacts.removeWatcher(watcher);
  }

  /** When a watcher last registered, or null with none: they register while online. */
  lastWatchedAt(): number | null {
    return this.contacts.newestWatcherAt();
  }

  /** This user's status as contacts see it. */
  status(userId = this.host.self()): ContactStatus {
    const state = this.contacts.state();
    const user: UserRef = state.name === null ? { id: userId } : { id: userId, name: state.name };
    const lastSeen = state.online ? this.host.now() : state.lastSeen;
    return { user, online: state.online, last_seen: lastSeen === null ? null : new Date(lastSeen).toISOString() };
  }

  /**
   * A watched user's status changed: tell this user's sockets. False when this user no
   * longer wants to hear (offline, or no longer watching them), so the sender forgets them.
   */
  contactChanged(status: ContactStatus): boolean {
    if (!this.contacts.state().online || this.contacts.unwatched([status.user.id]).length > 0) return false;
    this.host.send(status.online ? UserEvent.ContactOnline : UserEvent.ContactOffline, status);
    return true;
  }

  private register(ids: string[]): void {
    const me = this.host.self();
    this.fanOut("contacts.register_failed", ids, (peer, id) => peer.addWatcher(id, me));
  }

  private unregister(ids: string[]): void {
    const me = this.host.self();
    this.fanOut("contacts.unregister_failed", ids, (peer) => peer.removeWatcher(me));
  }

  private announce(): void {
    const status = this.status();
    this.fanOut("contacts.announce_failed", this.contacts.watchers(), async (peer, watcher) => {
      if (!(await peer.contactChanged(status))) this.contacts.removeWatcher(watcher);
    });
  }

  /** One call per user, all at once, after this request; a failure is logged and heals on the next change. */
  private fanOut(event: string, ids: string[], call: (peer: WatchPeer, id: string) => Promise<unknown>): void {
    const me = this.host.self();
    const targets = ids.filter((id) => id !== me);
    if (targets.length === 0 || me === "") return;
    this.host.waitUntil(
      Promise.all(
        targets.map((id) => call(this.host.peer(id), id).catch((err: unknown) => log(event, { user: me, peer: id, error: String(err) }))),
      ),
    );
  }
}
