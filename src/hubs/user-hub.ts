import type { Identity } from "../auth/jwt";
import { listInDirectory } from "../broadcast/directory";
import { fail, type Outcome, ok } from "../errors";
import type { Attachment, Refusal } from "../hub/connections";
import { moveIntoEventIds } from "../hub/event-ids";
import { Hub } from "../hub/hub";
import type { ClientFrame } from "../hub/intake";
import type { ComponentSchema } from "../hub/migrations";
import { newId } from "../ids";
import { CloseCode, type Notification, UserEvent, type UserEvents, type UserPresence, type UserSnapshot } from "../protocol";
import { AckFrame, type BroadcastInput, type NotificationInput, type ProductEvent } from "../schemas";
import { parseWith } from "../validation";
import { INBOX_SCHEMA, Inbox } from "./inbox";
import { type Delivered, PUBLISHED_EVENTS_TABLE, publishOnce } from "./product-events";

/** The snapshot carries at most this many unread notifications; `unread_count` counts all. */
const SNAPSHOT_UNREAD_MAX = 50;

/**
 * One user: every socket the user has open, on every device, and the user's notification
 * inbox. It also redeems the user's one-time socket tickets, since a ticket must be used
 * once across all channels.
 */
export class UserHub extends Hub<UserSnapshot, UserEvents> {
  private readonly inbox: Inbox;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.inbox = new Inbox(this.sql, { max: this.config.inboxMax, ttlMs: this.config.inboxTtlMs });
  }

  protected schema(): ComponentSchema {
    return {
      component: "user",
      steps: [
        "CREATE TABLE used_tickets (jti TEXT PRIMARY KEY, expires_at INTEGER NOT NULL)",
        ...INBOX_SCHEMA,
        PUBLISHED_EVENTS_TABLE,
        ...moveIntoEventIds("published_events", "json_object('seq', seq)"),
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
    return ok(publishOnce(this.eventIds, event.event_id, this.now(), () => this.publishProduct(event.type, event.data ?? null)));
  }

  /**
   * From a directory shard: a broadcast reaching this user. With `notify` it is kept in the
   * inbox (its id is the event_id) even if the last socket just closed; otherwise only
   * open sockets get it. Both dedupe by event_id, so a shard's retry delivers nothing twice.
   */
  receiveBroadcast(userId: string, input: BroadcastInput): Outcome<{ online: boolean }> {
    const online = this.sockets.count() > 0;
    const { event_id, type, data, title, body } = input;
    const delivered = input.notify
      ? this.notify(userId, { id: event_id, kind: type, title, body, data })
      : online
        ? this.publishEvent(userId, { type, data, event_id })
        : ok(null);
    return delivered.ok ? ok({ online }) : delivered;
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
    };
  }

  /**
   * `ack {ids}` marks notifications read. `notification:read` is logged, so a device that
   * was offline learns of it on resume, and goes to every socket, the acking one included,
   * so no socket sees a gap in seq.
   */
  protected override onClientFrame(ws: WebSocket, _from: Attachment, frame: ClientFrame): void {
    const { ids, ref } = parseWith(AckFrame, frame);
    const changed = this.inbox.markRead(ids, this.now());
    const seq = changed.length > 0 ? this.publish(UserEvent.NotificationRead, { ids: changed }).seq : undefined;
    this.ack(ws, ref, { ids: changed, ...(seq !== undefined ? { seq } : {}) });
  }

  // The broadcast directory lists users with open sockets: first socket in, last one out.
  protected override onJoin(_ws: WebSocket, who: Attachment): void {
    if (this.sockets.count() === 1) listInDirectory(this.ctx, this.env, this.config.directoryShards, who.user.id, true);
  }

  protected override onLeave(_ws: WebSocket, who: Attachment): void {
    const others = this.sockets.attachments().filter((other) => other.cid !== who.cid).length;
    if (others === 0) {
      this.events.writeMeta("last_seen", new Date(this.now()).toISOString());
      listInDirectory(this.ctx, this.env, this.config.directoryShards, who.user.id, false);
    }
  }
}
