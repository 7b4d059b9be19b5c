import type { Identity } from "../auth/jwt";
import { splitChannel } from "../channel-kinds";
import { fail, type Outcome, ok } from "../errors";
import type { Attachment, Refusal } from "../hub/connections";
import { IdleExpiringHub } from "../hub/idle-hub";
import type { ClientFrame } from "../hub/intake";
import type { ComponentSchema } from "../hub/migrations";
import { RetainedValues } from "../hub/retained";
import type { Timer } from "../hub/timers";
import { newId } from "../ids";
import {
  CloseCode,
  type HistoryPage,
  type RetainedValue,
  RoomEvent,
  type RoomEvents,
  type RoomMessage,
  type RoomPresence,
  type RoomSnapshot,
  type RoomVisibility,
  TYPING_EXPIRES_MS,
  WebhookEvent,
} from "../protocol";
import { MessageFrame, ReadFrame, type RoomProductEvent, type RoomSettings, TypingFrame } from "../schemas";
import { parseWith } from "../validation";
import { HISTORY_ROWS_FACTOR, MessageShares } from "./message-shares";
import { type Delivered, publishProductEvent } from "./product-events";
import { READS_TIMER, ReadReceipts, type ReceiptOutlet } from "./read-receipts";
import { claimGrants, type RoomAccess } from "./room-access";
import { messagesBefore, recentMessages } from "./room-history";
import { RoomLimits } from "./room-limits";
import { onlineUsers, otherConnections } from "./room-presence";
import { ROOM_SCHEMA } from "./room-schema";

/**
 * One room: who may join (visibility, members), its chat history in the event log, who
 * is online, and who is typing. Presence is derived from the sockets' attachments, so it
 * is right after hibernation without any bookkeeping of its own.
 */
export class RoomHub extends IdleExpiringHub<RoomSnapshot, RoomEvents> {
  protected idleTtlMs(): number {
    return this.config.roomIdleTtlMs;
  }

  private visibilityCache: RoomVisibility | null | undefined;
  private readonly limits = new RoomLimits(this.config);
  private readonly shares = new MessageShares(this.sql, {
    history: this.config.roomHistory,
    perMember: Math.max(1, Math.floor((this.config.roomHistory * this.config.roomMemberSharePct) / 100)),
  });
  private readonly retained = new RetainedValues(this.sql, { maxValues: this.config.retainedMax, maxBytes: this.config.retainedMaxBytes });
  private readonly reads = new ReadReceipts(this.sql);
  private readonly receiptOutlet: ReceiptOutlet = {
    send: (receipt) => this.sockets.broadcast(this.frame(RoomEvent.Read, receipt)),
    timer: (at, replace) => (replace ? this.timers.set(READS_TIMER, at) : this.timers.setIfAbsent(READS_TIMER, at)),
  };

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    // Waking with no socket at all (not even a closing one) after having some means a
    // restart dropped them without close events.
    if (ctx.getWebSockets().length === 0 && this.channel) this.forgetDropped([]);
  }

  private get roomId(): string {
    return this.roomIdOf(this.channel);
  }

  /** Members announced but without a socket now, and the room itself if nobody is left, are told gone. */
  private forgetDropped(present: Attachment[]): void {
    const online = new Set(present.map((a) => a.user.id));
    for (const { user_id, name } of this.sql
      .exec<{ user_id: string; name: string | null }>("SELECT user_id, name FROM announced")
      .toArray()) {
      if (online.has(user_id)) continue;
      this.sql.exec("DELETE FROM announced WHERE user_id = ?", user_id);
      this.webhooks.queue(WebhookEvent.MemberLeft, { room: this.roomId, user: name === null ? { id: user_id } : { id: user_id, name } });
    }
    if (present.length === 0) this.webhooks.lastSocket(WebhookEvent.RoomVacated);
  }

  protected schema(): ComponentSchema {
    return { component: "room", steps: ROOM_SCHEMA };
  }

  // The room's history is its event log: resume and the snapshot's messages both read it.
  // It keeps rows for eviction stubs too (message-shares.ts); full messages stay at ROOM_HISTORY.
  protected override retention(): number {
    return this.config.roomHistory * HISTORY_ROWS_FACTOR;
  }

  /** Null until a producer has PUT the room: such a room admits only `rooms` claims. */
  private get visibility(): RoomVisibility | null {
    if (!this.stored) return null;
    if (this.visibilityCache === undefined) {
      const row = this.sql.exec<{ visibility: string }>("SELECT visibility FROM room").toArray()[0];
      this.visibilityCache = (row?.visibility as RoomVisibility | undefined) ?? null;
    }
    return this.visibilityCache;
  }

  // A room deleted for idleness is as if never configured: forget the cached visibility too.
  protected override onWiped(): void {
    this.visibilityCache = undefined;
  }

  /** PUT /v1/rooms/:id. Replaces visibility and the member list (absent = no members). */
  configure(roomId: string, settings: RoomSettings): Outcome<RoomAccess> {
    this.bindChannel(`room:${roomId}`);
    this.noteActivity();
    const now = this.now();
    this.sql.exec(
      "INSERT INTO room (singleton, visibility, updated_at) VALUES (1, ?, ?) ON CONFLICT(singleton) DO UPDATE SET visibility = excluded.visibility, updated_at = excluded.updated_at",
      settings.visibility,
      now,
    );
    this.sql.exec("DELETE FROM members");
    for (const member of new Set(settings.members ?? [])) this.sql.exec("INSERT INTO members (user_id) VALUES (?)", member);
    this.visibilityCache = settings.visibility;
    this.webhooks.configure(settings.webhook_url ?? null);
    const members = this.sql
      .exec<{ user_id: string }>("SELECT user_id FROM members ORDER BY user_id")
      .toArray()
      .map((r) => r.user_id);
    // Revocation by PUT: a removed member, or an outsider of a room turned private, goes now.
    const allowed = new Set(members);
    for (const ws of this.sockets.open()) {
      const who = this.sockets.attachmentOf(ws);
      if (settings.visibility !== "public" && !who.claim && !allowed.has(who.user.id)) {
        this.dropSocket(ws, CloseCode.Forbidden, "no longer a member of this room");
      }
    }
    return ok({ id: roomId, visibility: settings.visibility, members, updated_at: new Date(now).toISOString() });
  }

  /** POST /v1/rooms/:id/events. `exclude_user`'s sockets get no live copy (see docs). */
  publishEvent(roomId: string, event: RoomProductEvent): Outcome<Delivered> {
    this.bindChannel(`room:${roomId}`);
    const excluded = event.exclude_user;
    const except = excluded ? (who: Attachment) => who.user.id === excluded : undefined;
    return publishProductEvent(this.eventIds, this.retained, event, this.now(), (key) =>
      this.publishProduct(event.type, event.data ?? null, except, key),
    );
  }

  /** GET /v1/rooms/:id/messages, for a producer (`reader` null) or a user the room admits. */
  history(roomId: string, reader: Identity | null, before: number | undefined, limit: number): Outcome<HistoryPage> {
    if (reader && this.admit(reader, `room:${roomId}`)) return fail("forbidden", "not a member of this room");
    if (!this.stored || !this.channel) return fail("not_found", "no such room");
    return ok(messagesBefore(this.sql, roomId, before, limit));
  }

  /** GET /v1/rooms/:id/retained. */
  retainedValues(roomId: string): Outcome<{ room: string; retained: Record<string, RetainedValue> }> {
    return ok({ room: roomId, retained: this.stored ? this.retained.all() : {} });
  }

  /** GET /v1/rooms/:id/presence. */
  presence(roomId: string): Outcome<RoomPresence> {
    return ok({ room: roomId, online: onlineUsers(this.sockets.attachments()).map(({ user, connections }) => ({ ...user, connections })) });
  }

  /** The socket's rules, for clients reading a rooms/<id>/ stream over HTTP. */
  mayWatch(roomId: string, identity: Identity): boolean {
    return this.admit(identity, `room:${roomId}`) === null;
  }

  // Default deny: a public room, the member list, or the token's `rooms` claim.
  protected admit(identity: Identity, channel: string): Refusal | null {
    const roomId = this.roomIdOf(channel);
    if (this.visibility === "public") return null;
    if (claimGrants(identity.rooms, roomId)) return null;
    if (this.visibility !== null && this.sql.exec("SELECT 1 FROM members WHERE user_id = ?", identity.id).toArray().length > 0) return null;
    return { code: CloseCode.Forbidden, reason: "not a member of this room" };
  }

  /** A socket let in by the token's `rooms` claim keeps its place whatever a PUT says. */
  protected override attachmentExtras(identity: Identity, channel: string): Partial<Attachment> {
    return claimGrants(identity.rooms, this.roomIdOf(channel)) ? { claim: true } : {};
  }

  protected snapshot(): RoomSnapshot {
    const recent = recentMessages(this.sql, this.config.roomSnapshotMessages);
    const { messages, trimmed } = this.limits.fitSnapshot(recent);
    return {
      id: this.roomIdOf(this.channel),
      visibility: this.visibility ?? "private",
      online: onlineUsers(this.sockets.attachments()).map((u) => u.user),
      messages,
      ...(trimmed > 0 ? { messages_trimmed: trimmed } : {}),
      retained: this.retained.all(),
      reads: this.reads.latest(),
    };
  }

  protected override onClientFrame(ws: WebSocket, from: Attachment, frame: ClientFrame): void | Promise<void> {
    if (frame.type === "message") return this.sendMessage(ws, from, parseWith(MessageFrame, frame));
    if (frame.type === "typing") return this.setTyping(ws, from, parseWith(TypingFrame, frame));
    if (frame.type === "read") {
      const { up_to, ref } = parseWith(ReadFrame, frame);
      return this.ack(ws, ref, { up_to: this.reads.take(from.user, up_to, this.events.lastSeq, this.now(), this.receiptOutlet) });
    }
    return super.onClientFrame(ws, from, frame);
  }

  private sendMessage(ws: WebSocket, from: Attachment, frame: MessageFrame): void {
    this.limits.takeMessage(from.user.id, this.now());
    const message: RoomMessage = {
      id: newId(),
      from: from.user.id,
      ...(from.user.name !== undefined ? { name: from.user.name } : {}),
      text: frame.text,
      ...(frame.data !== undefined ? { data: frame.data } : {}),
      ts: new Date(this.now()).toISOString(),
    };
    this.limits.checkStored(message);
    const { seq } = this.publish(RoomEvent.Message, message);
    this.shares.noteMessage(seq, from.user.id);
    this.ack(ws, frame.ref, { id: message.id, seq });
  }

  private setTyping(ws: WebSocket, from: Attachment, frame: TypingFrame): void {
    this.limits.takeTyping(from.user.id, this.now());
    if (frame.typing) {
      this.sql.exec(
        "INSERT INTO typing (user_id, until) VALUES (?, ?) ON CONFLICT(user_id) DO UPDATE SET until = excluded.until",
        from.user.id,
        this.now() + TYPING_EXPIRES_MS,
      );
    } else {
      this.sql.exec("DELETE FROM typing WHERE user_id = ?", from.user.id);
    }
    // The others hear one typing frame per user per second at most, however many tabs type.
    if (this.limits.typingGoesOut(from.user.id, this.now())) this.sendTyping(from, frame.typing);
    if (frame.ref !== undefined) this.ack(ws, frame.ref);
  }

  protected override onTimer(timer: Timer): void | Promise<void> {
    if (timer.name === READS_TIMER) return this.reads.flush(this.now(), this.receiptOutlet);
    return super.onTimer(timer);
  }

  /** To everyone but the typist's own sockets (their other tabs know already). */
  private sendTyping(from: Attachment, typing: boolean): void {
    const data = { user: from.user, typing, expires_in_ms: typing ? TYPING_EXPIRES_MS : 0 };
    this.sockets.broadcast(this.frame(RoomEvent.Typing, data), (who) => who.user.id === from.user.id);
  }

  protected override onJoin(_ws: WebSocket, who: Attachment): void {
    // Sockets dropped without a close event (a restart) leave stale rows: forget anyone
    // with no open socket besides this new one before deciding.
    this.forgetDropped(this.sockets.attachments().filter((a) => a.cid !== who.cid));
    this.webhooks.firstSocket(WebhookEvent.RoomOccupied, { room: this.roomId });
    const added = this.sql.exec(
      "INSERT INTO announced (user_id, name) VALUES (?, ?) ON CONFLICT DO NOTHING",
      who.user.id,
      who.user.name ?? null,
    );
    if (added.rowsWritten === 0) return;
    this.sockets.broadcast(this.frame(RoomEvent.PresenceJoin, { user: who.user }), (other) => other.user.id === who.user.id);
    this.webhooks.queue(WebhookEvent.MemberJoined, { room: this.roomId, user: who.user });
  }

  protected override onLeave(ws: WebSocket, who: Attachment): void {
    super.onLeave(ws, who);
    this.announceLeave(ws, who);
    const vacated = this.sockets.attachments().every((a) => a.cid === who.cid);
    if (vacated) this.webhooks.lastSocket(WebhookEvent.RoomVacated, { room: this.roomId });
  }

  private announceLeave(_ws: WebSocket, who: Attachment): void {
    if (otherConnections(this.sockets.attachments(), who.user.id, who) > 0) return;
    this.limits.forget(who.user.id);
    if (this.sql.exec("DELETE FROM announced WHERE user_id = ?", who.user.id).rowsWritten === 0) return;
    const typing = this.sql.exec<{ until: number }>("SELECT until FROM typing WHERE user_id = ?", who.user.id).toArray()[0];
    this.sql.exec("DELETE FROM typing WHERE user_id = ?", who.user.id);
    const isLeaving = (other: Attachment) => other.cid === who.cid;
    if (typing && typing.until > this.now()) {
      this.sockets.broadcast(this.frame(RoomEvent.Typing, { user: who.user, typing: false, expires_in_ms: 0 }), isLeaving);
    }
    this.sockets.broadcast(this.frame(RoomEvent.PresenceLeave, { user: who.user }), isLeaving);
    this.webhooks.queue(WebhookEvent.MemberLeft, { room: this.roomId, user: who.user });
  }

  private roomIdOf(channel: string): string {
    return splitChannel(channel)?.rawId ?? "";
  }
}
