import type { Identity } from "../auth/jwt";
import { listInDirectory } from "../broadcast/directory";
import { fail, type Outcome, ok } from "../errors";
import type { Attachment, Refusal } from "../hub/connections";
import { moveIntoEventIds } from "../hub/event-ids";
import type { ClientFrame } from "../hub/intake";
import type { ComponentSchema } from "../hub/migrations";
import { RETAINED_SCHEMA, RetainedValues } from "../hub/retained";
import type { SessionRegistryStub, SessionUser } from "../hub/session-control";
import { newId } from "../ids";
import { CloseCode, type Notification, UserEvent, type UserPresence, type UserSnapshot, WebhookEvent } from "../protocol";
import {
  AckFrame,
  type BroadcastInput,
  type NotificationInput,
  type ProductEvent,
  REVOCATION_MAX_TTL_S,
  ReadAllFrame,
  type RevocationBody,
} from "../schemas";
import { parseWith } from "../validation";
import { CONTACTS_SCHEMA } from "./contacts";
import { INBOX_SCHEMA, Inbox, notificationKey, type ReadResult, type ReadSelection, readNotifications, SNAPSHOT_UNREAD_MAX } from "./inbox";
import { type Delivered, PUBLISHED_EVENTS_TABLE, publishProductEvent } from "./product-events";
import { REVOCATION_SCHEMA, REVOKED_TOKEN, REVOKED_USER, Revocations } from "./revocations";
import { SESSION_SCHEMA, SessionRegistry } from "./session-registry";
import { UserContactsHub } from "./user-contacts-hub";
import { type Closed, closeEverywhere, recount } from "./user-sessions";

/**
 * One user: every socket the user has open, on every device, and the user's notification
 * inbox. It also keeps what must hold across all of the user's channels: the session
 * registry (where the user has sockets, and the caps), the deny-list, the one-time
 * socket tickets already used, and who is online among the user's contacts (who-is-online.ts).
 */
export class UserHub extends UserContactsHub {
  protected idleTtlMs(): number {
    return this.config.userIdleTtlMs;
  }

  protected socketsAnywhere(): number {
    return this.registry.total();
  }

  /** Kept while the user has sockets on other channels, and while a revocation holds (and see UserContactsHub). */
  protected override idleHold(now: number): number {
    return Math.max(super.idleHold(now), this.registry.total() > 0 ? now + this.idleTtlMs() : 0, this.revocations.lastUntil());
  }

  private readonly inbox: Inbox;
  private readonly registry: SessionRegistry;
  private readonly revocations: Revocations;
  private readonly retained: RetainedValues;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.inbox = new Inbox(this.sql, { max: this.config.inboxMax, ttlMs: this.config.inboxTtlMs });
    this.registry = new SessionRegistry(this.sql, { perUser: this.config.maxSocketsPerUser, perChannel: this.config.maxSocketsPerChannel });
    this.revocations = new Revocations(this.sql);
    this.retained = new RetainedValues(this.sql, { maxValues: this.config.retainedMax, maxBytes: this.config.retainedMaxBytes });
  }

  protected schema(): ComponentSchema {
    return {
      component: "user",
      steps: [
        "CREATE TABLE used_tickets (jti TEXT PRIMARY KEY, expires_at INTEGER NOT NULL)",
        ...INBOX_SCHEMA,
        PUBLISHED_EVENTS_TABLE,
        ...moveIntoEventIds("published_events", "json_object('seq', seq)"),
        ...SESSION_SCHEMA,
        ...REVOCATION_SCHEMA,
        ...RETAINED_SCHEMA,
        ...CONTACTS_SCHEMA,
      ],
    };
  }

  /**
   * Succeeds the first time a ticket id is presented, and never again. A ticket expired by
   * this hub's clock is refused here too: rows are forgotten by this clock, so accepting
   * one the Worker's clock still found valid could redeem it a second time.
   */
  redeemTicket(jti: string, expiresAt: number): Outcome<null> {
    const now = this.now();
    if (expiresAt <= now) return fail("unauthorized", "ticket expired");
    this.ensureStorage();
    this.sql.exec("DELETE FROM used_tickets WHERE expires_at < ?", now);
    const inserted = this.sql.exec("INSERT INTO used_tickets (jti, expires_at) VALUES (?, ?) ON CONFLICT(jti) DO NOTHING", jti, expiresAt);
    this.touchIdle(); // used rows go with the channel once idle, even if it was never bound
    return inserted.rowsWritten > 0 ? ok(null) : fail("unauthorized", "ticket already used");
  }

  /**
   * POST /v1/users/:id/notifications. The same `id` again is acknowledged, not delivered
   * twice, for as long as any event_id is remembered (7 days), whether or not the
   * notification is still in the inbox (the inbox answers with its read state).
   */
  notify(userId: string, input: NotificationInput): Outcome<Delivered & { notification: Notification }> {
    this.bindChannel(`user:${userId}`);
    if (input.id !== undefined) {
      const seen =
        this.inbox.find(input.id) ?? this.eventIds.recall<{ notification: Notification; seq: number }>(notificationKey(input.id));
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
    if (input.id !== undefined) this.eventIds.remember(notificationKey(input.id), { notification, seq }, now);
    return ok({ notification, seq });
  }

  /** POST /v1/users/:id/events: a product event to every socket of the user. */
  publishEvent(userId: string, event: ProductEvent): Outcome<Delivered> {
    this.bindChannel(`user:${userId}`);
    return publishProductEvent(this.eventIds, this.retained, event, this.now(), (key) =>
      this.publishProduct(event.type, event.data ?? null, undefined, key),
    );
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
    if (!this.stored) return ok({ notifications: [], unread_count: 0 });
    const now = this.now();
    return ok({ notifications: this.inbox.list(options, now), unread_count: this.inbox.unreadCount(now) });
  }

  /** GET /v1/users/:id/presence: the registry's channels, re-counted so the numbers are exact. */
  async presence(userId: string): Promise<Outcome<UserPresence>> {
    if (this.stored)
      await recount(
        this.env,
        this.registry,
        userId,
        "",
        () => this.now(),
        (channel) => this.ownCount(userId, channel),
      );
    if (this.stored && this.registry.total() === 0) this.online.left();
    const channels = this.stored ? this.registry.entries() : [];
    const connections = channels.reduce((n, c) => n + c.sockets, 0);
    const lastSeen = connections > 0 ? new Date(this.now()).toISOString() : (this.events.readMeta("last_seen") ?? null);
    return ok({ user: userId, online: connections > 0, connections, last_seen: lastSeen, channels });
  }

  // ---- the session registry (every hub asks here; see session-registry.ts) ----

  /** A socket asks to join `channel`: the deny-list, then the caps (re-counted before refusing). */
  async openSession(
    userId: string,
    channel: string,
    socketsHere: number,
    jti: string | null,
    user: SessionUser = {},
  ): Promise<Refusal | null> {
    const refusal = await this.admitSession(userId, channel, socketsHere, jti);
    // user.online and the contacts' user:online: the user's first socket anywhere (any channel, any device).
    if (refusal === null) {
      this.bindChannel(`user:${userId}`);
      this.webhooks.firstSocket(WebhookEvent.UserOnline, { user: { id: userId } });
      this.online.joined({ id: userId, ...(user.name !== undefined ? { name: user.name } : {}) }, user.watch ?? []);
    }
    return refusal;
  }

  private async admitSession(userId: string, channel: string, socketsHere: number, jti: string | null): Promise<Refusal | null> {
    this.ensureStorage();
    const revoked = this.revocations.refusalFor(jti ?? undefined, this.now());
    if (revoked) return revoked;
    if (this.registry.check(channel, socketsHere) === null) return this.registry.enter(channel, socketsHere, this.now());
    await recount(
      this.env,
      this.registry,
      userId,
      channel,
      () => this.now(),
      (other) => this.ownCount(userId, other),
    );
    return this.registry.enter(channel, socketsHere, this.now());
  }

  /** The user's last socket on `channel` left; when it was their last anywhere, they were last seen now. */
  async closeSession(channel: string): Promise<void> {
    if (!this.stored) return;
    this.registry.record(channel, 0, this.now());
    if (this.registry.total() > 0) return;
    this.events.writeMeta("last_seen", new Date(this.now()).toISOString());
    this.webhooks.lastSocket(WebhookEvent.UserOffline);
    this.online.left();
  }

  /** The user's sockets on their own channel, counted here; null for any other channel. */
  private ownCount(userId: string, channel: string): number | null {
    return channel === `user:${userId}` ? this.userSockets(userId) : null;
  }

  /** Whether a token (by `jti`) may still be used: the `auth` frame's deny-list check. */
  async checkToken(jti: string | null): Promise<Refusal | null> {
    return this.stored ? this.revocations.refusalFor(jti ?? undefined, this.now()) : null;
  }

  /** POST /v1/users/:id/disconnect: every socket of the user, on every channel, closed with 4003. */
  disconnect(userId: string): Promise<Closed> {
    if (!this.stored) return Promise.resolve({ closed: 0, channels: [] });
    return this.closeSessions(userId, null, { code: CloseCode.Forbidden, reason: "disconnected" });
  }

  /** POST /v1/revocations: deny a token (`jti`) or the whole user for `ttl_s`, and close what matches. */
  revoke(revocation: RevocationBody): Promise<Closed> {
    this.ensureStorage();
    const ttlS = Math.min(revocation.ttl_s ?? this.config.jwt.maxTtlS, REVOCATION_MAX_TTL_S);
    this.revocations.add({ ...(revocation.jti !== undefined ? { jti: revocation.jti } : {}), until: this.now() + ttlS * 1000 }, this.now());
    return this.closeSessions(revocation.sub, revocation.jti ?? null, revocation.jti === undefined ? REVOKED_USER : REVOKED_TOKEN);
  }

  private closeSessions(userId: string, jti: string | null, refusal: Refusal): Promise<Closed> {
    return closeEverywhere(this.env, this.registry, userId, jti, refusal, (channel) =>
      channel === `user:${userId}` ? this.closeUserSockets(userId, jti, refusal.code, refusal.reason) : null,
    );
  }

  /** This hub is the user's registry: its own sockets ask it directly, without a call. */
  protected override sessionRegistry(): SessionRegistryStub {
    return this;
  }

  // The Worker routes a token only to its own user's channel; the caps are the registry's.
  protected admit(_identity: Identity): Refusal | null {
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
    if (!this.stored) return ok({ ids: [], unread_count: 0 });
    return ok(this.markRead(which));
  }

  /** `ack {ids}` and `read_all` mark notifications read; the ack carries what changed. */
  protected override onClientFrame(ws: WebSocket, from: Attachment, frame: ClientFrame): void | Promise<void> {
    if (frame.type === "read_all") return this.ack(ws, parseWith(ReadAllFrame, frame).ref, { ...this.markRead("all") });
    if (frame.type !== "ack") return super.onClientFrame(ws, from, frame);
    const { ids, ref } = parseWith(AckFrame, frame);
    this.ack(ws, ref, { ...this.markRead({ ids }) });
  }

  private markRead(which: ReadSelection): ReadResult {
    return readNotifications(this.inbox, which, this.now(), (data) => this.publish(UserEvent.NotificationRead, data).seq);
  }

  // The broadcast directory lists users with a socket on their own channel (broadcasts are
  // delivered there): this channel's first socket in, its last one out.
  protected override onJoin(_ws: WebSocket, who: Attachment): void {
    if (this.sockets.count() === 1) listInDirectory(this.ctx, this.env, this.config.directoryShards, who.user.id, true);
  }

  protected override onLeave(ws: WebSocket, who: Attachment): void {
    super.onLeave(ws, who);
    if (this.sockets.attachments().every((other) => other.cid === who.cid))
      listInDirectory(this.ctx, this.env, this.config.directoryShards, who.user.id, false);
  }
}
