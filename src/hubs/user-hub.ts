import type { Identity } from "../auth/jwt";
import { fail, type Outcome, ok } from "../errors";
import type { Attachment, Refusal } from "../hub/connections";
import { moveIntoEventIds } from "../hub/event-ids";
import { Hub } from "../hub/hub";
import type { ClientFrame } from "../hub/intake";
import type { ComponentSchema } from "../hub/migrations";
import { RETAINED_SCHEMA, RetainedValues } from "../hub/retained";
import type { Timer } from "../hub/timers";
import { newId } from "../ids";
import {
  CloseCode,
  type ContactStatus,
  type Notification,
  type NotificationReadData,
  UserEvent,
  type UserEvents,
  type UserPresence,
  type UserSnapshot,
} from "../protocol";
import { AckFrame, type NotificationInput, type ProductEvent, ReadAllFrame } from "../schemas";
import { parseWith } from "../validation";
import { CONTACTS_SCHEMA, Contacts } from "./contacts";
import { INBOX_SCHEMA, Inbox } from "./inbox";
import { type Delivered, PUBLISHED_EVENTS_TABLE, publishProductEvent } from "./product-events";
import { OFFLINE_TIMER, WhoIsOnline } from "./who-is-online";

/** The snapshot carries at most this many unread notifications; `unread_count` counts all. */
const SNAPSHOT_UNREAD_MAX = 50;

/** Which notifications to mark read: some ids, or every one. */
export type ReadSelection = { ids: string[] } | "all";
/** The ids that became read, the unread count after, and the seq of `notification:read` if one went out. */
export interface ReadResult {
  ids: string[];
  unread_count: number;
  seq?: number;
}

/**
 * One user: every socket the user has open, on every device, and the user's notification
 * inbox. It also redeems the user's one-time socket tickets, since a ticket must be used
 * once across all channels.
 */
export class UserHub extends Hub<UserSnapshot, UserEvents> {
  private readonly inbox: Inbox;
  private readonly retained: RetainedValues;
  private readonly online: WhoIsOnline;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.inbox = new Inbox(this.sql, { max: this.config.inboxMax, ttlMs: this.config.inboxTtlMs });
    this.retained = new RetainedValues(this.sql, { maxValues: this.config.retainedMax, maxBytes: this.config.retainedMaxBytes });
    this.online = new WhoIsOnline(new Contacts(this.sql), {
      self: () => this.channel.slice("user:".length),
      openSockets: () => this.sockets.count(),
      send: (type, data) => this.sockets.broadcast(this.frame(type as keyof UserEvents, data as never)),
      now: () => this.now(),
      setTimer: (name, due, payload) => this.timers.set(name, due, payload),
      clearTimer: (name) => this.timers.clear(name),
      waitUntil: (work) => this.ctx.waitUntil(work),
      peer: (userId) => this.env.USER_HUB.getByName(userId),
      offlineDelayMs: this.config.offlineDelayMs,
    });
  }

  protected schema(): ComponentSchema {
    return {
      component: "user",
      steps: [
        "CREATE TABLE used_tickets (jti TEXT PRIMARY KEY, expires_at INTEGER NOT NULL)",
        ...INBOX_SCHEMA,
        PUBLISHED_EVENTS_TABLE,
        ...moveIntoEventIds("published_events", "json_object('seq', seq)"),
        ...RETAINED_SCHEMA,
        ...CONTACTS_SCHEMA,
      ],
    };
  }

  /** Succeeds the first time a ticket id is presented, and never again. */
  redeemTicket(jti: string, expiresAt: number): Outcome<null> {
    this.sql.exec("DELETE FROM used_tickets WHERE expires_at < ?", this.now());
    const inserted = this.sql.exec("INSERT INTO used_tickets (jti, expires_at) VALUES (?, ?) ON CONFLICT(jti) DO NOTHING", jti, expiresAt);
    return inserted.rowsWritten > 0 ? ok(null) : fail("unauthorized", "ticket already used");
  }

  /** POST /v1/users/:id/notifications. The same `id` again is acknowledged, not delivered twice. */
  notify(userId: string, input: NotificationInput): Outcome<Delivered & { notification: Notification }> {
    this.bindChannel(`user:${userId}`);
    if (input.id !== undefined) {
      const seen = this.inbox.find(input.id);
      if (seen) return ok({ notification: seen.notification, seq: seen.seq, duplicate: true });
    }
    const now = this.now();
    const notification: Notification = {
      id: input.id ?? newId(),
      kind: input.kind,
      ...(input.title !== undefined ? { title: input.title } : {}),
      ...(input.body !== undefined ? { body: input.body } : {}),
      ...(input.data !== undefined ? { data: input.data } : {}),
      created_at: new Date(now).toISOString(),
      read: false,
    };
    const { seq } = this.publish(UserEvent.Notification, notification);
    this.inbox.add(notification, seq, now);
    return ok({ notification, seq });
  }

  /** POST /v1/users/:id/events: a product event to every socket of the user. */
  publishEvent(userId: string, event: ProductEvent): Outcome<Delivered> {
    this.bindChannel(`user:${userId}`);
    return publishProductEvent(this.eventIds, this.retained, event, this.now(), (key) =>
      this.publishProduct(event.type, event.data ?? null, undefined, key),
    );
  }

  /** GET /v1/me/notifications, newest first. */
  notifications(options: { unreadOnly: boolean; limit: number }): Outcome<{ notifications: Notification[]; unread_count: number }> {
    const now = this.now();
    return ok({ notifications: this.inbox.list(options, now), unread_count: this.inbox.unreadCount(now) });
  }

  /** GET /v1/users/:id/presence. */
  presence(userId: string): Outcome<UserPresence> {
    const connections = this.sockets.count();
    const lastSeen = connections > 0 ? new Date(this.now()).toISOString() : (this.events.readMeta("last_seen") ?? null);
    return ok({ user: userId, online: connections > 0, connections, last_seen: lastSeen });
  }

  // The Worker routes a token only to its own user's channel; this only caps the tabs.
  protected admit(_identity: Identity): Refusal | null {
    if (this.sockets.count() >= this.config.maxSocketsPerUser) {
      return { code: CloseCode.TooManyConnections, reason: `at most ${this.config.maxSocketsPerUser} connections per user` };
    }
    return null;
  }

  protected snapshot(): UserSnapshot {
    const now = this.now();
    return {
      unread: this.inbox.list({ unreadOnly: true, limit: SNAPSHOT_UNREAD_MAX }, now),
      unread_count: this.inbox.unreadCount(now),
      retained: this.retained.all(),
    };
  }

  /**
   * `ack {ids}` marks notifications read. `notification:read` is logged, so a device that
   * was offline learns of it on resume, and goes to every socket, the acking one included,
   * so no socket sees a gap in seq.
   */
  /** POST /v1/users/:id/notifications/read: the same as a socket's `ack` or `read_all`. */
  readNotifications(which: ReadSelection): Outcome<ReadResult> {
    return ok(this.markRead(which));
  }

  /** `ack {ids}` and `read_all` mark notifications read; the ack carries what changed. */
  protected override onClientFrame(ws: WebSocket, _from: Attachment, frame: ClientFrame): void {
    if (frame.type === "read_all") {
      const { ref } = parseWith(ReadAllFrame, frame);
      this.ack(ws, ref, { ...this.markRead("all") });
      return;
    }
    const { ids, ref } = parseWith(AckFrame, frame);
    this.ack(ws, ref, { ...this.markRead({ ids }) });
  }

  /**
   * `notification:read` is logged, so a device that was offline learns of it on resume,
   * and goes to every socket, the one that asked included, so no socket sees a gap in
   * seq. It carries the unread count after the change, so every badge agrees.
   */
  private markRead(which: ReadSelection): ReadResult {
    const now = this.now();
    const ids = which === "all" ? this.inbox.markAllRead(now) : this.inbox.markRead(which.ids, now);
    const unread_count = this.inbox.unreadCount(now);
    if (ids.length === 0) return { ids, unread_count };
    const data: NotificationReadData = { ids, ...(which === "all" ? { all: true as const } : {}), unread_count };
    return { ids, unread_count, seq: this.publish(UserEvent.NotificationRead, data).seq };
  }

  /** PUT /v1/users/:id/contacts: whose online status this user sees. */
  setContacts(userId: string, contacts: string[]): Outcome<{ user: string; contacts: string[] }> {
    this.bindChannel(`user:${userId}`);
    return ok({ user: userId, contacts: this.online.setContacts(contacts) });
  }

  /** GET /v1/presence asks the asker's hub which of `ids` it may not see. */
  notContacts(ids: string[]): Outcome<string[]> {
    return ok(this.online.notWatched(ids));
  }

  /** GET /v1/presence: this user's status as contacts see it. */
  contactStatus(userId: string): Outcome<ContactStatus> {
    return ok(this.online.status(userId));
  }

  // Calls between user hubs (see WhoIsOnline).
  addWatcher(watcher: string): void {
    this.online.watchedBy(watcher, this.now());
  }

  removeWatcher(watcher: string): void {
    this.online.unwatchedBy(watcher);
  }

  contactChanged(status: ContactStatus): boolean {
    return this.online.contactChanged(status);
  }

  protected override onJoin(_ws: WebSocket, who: Attachment, identity: Identity): void {
    this.online.joined(who.user, identity.watch ?? []);
  }

  protected override onLeave(_ws: WebSocket, who: Attachment): void {
    const others = this.sockets.attachments().filter((other) => other.cid !== who.cid).length;
    if (others === 0) this.events.writeMeta("last_seen", new Date(this.now()).toISOString());
    this.online.left(others);
  }

  protected override onTimer(timer: Timer): void | Promise<void> {
    if (timer.name !== OFFLINE_TIMER) return super.onTimer(timer);
    this.online.offlineDue((timer.payload as { at: number }).at);
  }
}
