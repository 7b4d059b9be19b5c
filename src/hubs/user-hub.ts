import * as v from "valibot";
import type { Identity } from "../auth/jwt";
import { type Outcome, ok } from "../errors";
import { type ClientEnvelope, parseFrame } from "../hub/frames";
import { type Attachment, type ComponentSchema, Hub, type Refusal } from "../hub/hub";
import { INBOX_SCHEMA, Inbox } from "../hub/inbox";
import { PUBLISHED_EVENTS_TABLE, publishedSeq, rememberPublished } from "../hub/product-events";
import { publishRetained, RETAINED_SCHEMA, RetainedValues } from "../hub/retained";
import type { Timer } from "../hub/timers";
import { newId } from "../ids";
import {
  CloseCode,
  type ContactStatus,
  type Notification,
  type NotificationReadData,
  UserEvent,
  type UserPresence,
  type UserSnapshot,
} from "../protocol";
import { Id, type NotificationInput, type ProductEvent } from "../schemas";
import { CONTACTS_SCHEMA, Contacts } from "./contacts";
import { OFFLINE_TIMER, WhoIsOnline } from "./who-is-online";

/** The snapshot carries at most this many unread notifications; `unread_count` counts all. */
const SNAPSHOT_UNREAD_MAX = 50;

const AckFrame = v.strictObject({
  type: v.literal("ack"),
  ids: v.pipe(v.array(Id), v.minLength(1), v.maxLength(100)),
  ref: v.optional(v.union([v.pipe(v.string(), v.maxLength(64)), v.number()])),
});

const ReadAllFrame = v.strictObject({
  type: v.literal("read_all"),
  ref: v.optional(v.union([v.pipe(v.string(), v.maxLength(64)), v.number()])),
});

/** Which notifications to mark read: some ids, or every one. */
export type ReadSelection = { ids: string[] } | "all";
/** The ids that became read, the unread count after, and the seq of `notification:read` if one went out. */
export interface ReadResult {
  ids: string[];
  unread_count: number;
  seq?: number;
}

export interface Delivered {
  seq: number;
  duplicate?: true;
}

/**
 * One user: every socket the user has open, on every device, and the user's notification
 * inbox. It also redeems the user's one-time socket tickets, since a ticket must be used
 * once across all channels.
 */
export class UserHub extends Hub<UserSnapshot> {
  private readonly inbox: Inbox;
  private readonly retained: RetainedValues;
  private readonly online: WhoIsOnline;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.inbox = new Inbox(this.sql, { max: this.config.inboxMax, ttlMs: this.config.inboxTtlMs });
    this.retained = new RetainedValues(this.sql, { maxValues: this.config.retainedMax, maxBytes: this.config.retainedMaxBytes });
    this.online = new WhoIsOnline(new Contacts(this.sql), {
      self: () => this.channel.slice("user:".length),
      openSockets: () => this.openSockets().length,
      send: (type, data) => this.broadcast(this.frame(type, data)),
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
        ...RETAINED_SCHEMA,
        ...CONTACTS_SCHEMA,
      ],
    };
  }

  /** True the first time a ticket id is presented, false ever after. */
  redeemTicket(jti: string, expiresAt: number): boolean {
    this.sql.exec("DELETE FROM used_tickets WHERE expires_at < ?", this.now());
    const inserted = this.sql.exec("INSERT INTO used_tickets (jti, expires_at) VALUES (?, ?) ON CONFLICT(jti) DO NOTHING", jti, expiresAt);
    return inserted.rowsWritten > 0;
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
    if (event.event_id !== undefined) {
      const seq = publishedSeq(this.sql, event.event_id);
      if (seq !== undefined) return ok({ seq, duplicate: true });
    }
    const published = publishRetained(this.retained, event, this.now(), (key) =>
      this.publish(event.type, event.data ?? null, undefined, key),
    );
    if (!published.ok) return published;
    const { seq } = published.value;
    if (event.event_id !== undefined) rememberPublished(this.sql, event.event_id, seq, this.now());
    return ok({ seq });
  }

  /** GET /v1/me/notifications, newest first. */
  notifications(options: { unreadOnly: boolean; limit: number }): Outcome<{ notifications: Notification[]; unread_count: number }> {
    const now = this.now();
    return ok({ notifications: this.inbox.list(options, now), unread_count: this.inbox.unreadCount(now) });
  }

  /** GET /v1/users/:id/presence. */
  presence(userId: string): UserPresence {
    const connections = this.openSockets().length;
    const lastSeen = connections > 0 ? new Date(this.now()).toISOString() : (this.log.readMeta("last_seen") ?? null);
    return { user: userId, online: connections > 0, connections, last_seen: lastSeen };
  }

  // The Worker routes a token only to its own user's channel; this only caps the tabs.
  protected admit(_identity: Identity): Refusal | null {
    if (this.openSockets().length >= this.config.maxSocketsPerUser) {
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

  /** POST /v1/users/:id/notifications/read: the same as a socket's `ack` or `read_all`. */
  readNotifications(which: ReadSelection): Outcome<ReadResult> {
    return ok(this.markRead(which));
  }

  /** `ack {ids}` and `read_all` mark notifications read; the ack carries what changed. */
  protected override onClientFrame(ws: WebSocket, _from: Attachment, frame: ClientEnvelope): void {
    if (frame.type === "read_all") {
      const { ref } = parseFrame(ReadAllFrame, frame);
      this.ack(ws, ref, { ...this.markRead("all") });
      return;
    }
    const { ids, ref } = parseFrame(AckFrame, frame);
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

  /** GET /v1/presence asks the asker's hub which of `ids` it may see. */
  notContacts(ids: string[]): string[] {
    return this.online.notWatched(ids);
  }

  /** GET /v1/presence: this user's status as contacts see it. */
  contactStatus(userId: string): ContactStatus {
    return this.online.status(userId);
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
    const others = this.openSockets().filter((ws) => this.attachmentOf(ws).cid !== who.cid).length;
    if (others === 0) this.log.writeMeta("last_seen", new Date(this.now()).toISOString());
    this.online.left(others);
  }

  protected override onTimer(timer: Timer): void | Promise<void> {
    if (timer.name !== OFFLINE_TIMER) return super.onTimer(timer);
    this.online.offlineDue((timer.payload as { at: number }).at);
  }
}
