import type { Identity } from "../auth/jwt";
import { splitChannel } from "../channel-kinds";
import { type Outcome, ok } from "../errors";
import type { Attachment, Refusal } from "../hub/connections";
import type { ClientFrame } from "../hub/intake";
import type { ComponentSchema } from "../hub/migrations";
import { newId } from "../ids";
import {
  CloseCode,
  RoomEvent,
  type RoomMessage,
  type RoomPresence,
  type RoomSnapshot,
  type RoomVisibility,
  TYPING_EXPIRES_MS,
  type UserRef,
  WebhookEvent,
} from "../protocol";
import { MessageFrame, type RoomProductEvent, type RoomSettings, TypingFrame } from "../schemas";
import { parseWith } from "../validation";
import { HISTORY_ROWS_FACTOR, MessageShares } from "./message-shares";
import { type Delivered, publishProductEvent } from "./product-events";
import { claimGrants, type RoomAccess } from "./room-access";
import { recentMessages } from "./room-history";
import { RoomLimits } from "./room-limits";
import { onlineUsers } from "./room-presence";
import { RoomRecords } from "./room-records";
import { ROOM_SCHEMA } from "./room-schema";

/**
 * One room: who may join (visibility, members), its chat history in the event log, who
 * is online, and who is typing. Presence is derived from the sockets' attachments, so it
 * is right after hibernation without any bookkeeping of its own. Past CHANNEL_SHARD_SOCKETS
 * sockets, new ones land on the room's shard objects (src/rooms/): this object keeps the
 * one log and state and sends each event on to them.
 */
export class RoomHub extends RoomRecords {
  protected idleTtlMs(): number {
    return this.config.roomIdleTtlMs;
  }

  private visibilityCache: RoomVisibility | null | undefined;
  private droppedForgotten = false;
  private readonly limits = new RoomLimits(this.config);
  private readonly shares = new MessageShares(this.sql, {
    history: this.config.roomHistory,
    perMember: Math.max(1, Math.floor((this.config.roomHistory * this.config.roomMemberSharePct) / 100)),
  });

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
    const announced = this.sql.exec<{ user_id: string; name: string | null }>("SELECT user_id, name FROM announced").toArray();
    for (const { user_id, name } of announced) {
      if (online.has(user_id) || this.shards.onShards(user_id)) continue;
      this.sql.exec("DELETE FROM announced WHERE user_id = ?", user_id);
      this.webhooks.queue(WebhookEvent.MemberLeft, { room: this.roomId, user: name === null ? { id: user_id } : { id: user_id, name } });
    }
    if (present.length === 0 && this.shards.inUse().sockets === 0) this.webhooks.lastSocket(WebhookEvent.RoomVacated);
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
  protected get visibility(): RoomVisibility | null {
    if (!this.stored) return null;
    if (this.visibilityCache === undefined) {
      const row = this.sql.exec<{ visibility: string }>("SELECT visibility FROM room").toArray()[0];
      this.visibilityCache = (row?.visibility as RoomVisibility | undefined) ?? null;
    }
    return this.visibilityCache;
  }

  // A room deleted for idleness is as if never configured: forget the cached visibility too.
  protected override onWiped(): void {
    super.onWiped();
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
    const members = this.members();
    // The shards apply the same revocation to their sockets.
    this.shards.forward({ access: { visibility: settings.visibility, members } });
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

  protected members(): string[] {
    return this.sql
      .exec<{ user_id: string }>("SELECT user_id FROM members ORDER BY user_id")
      .toArray()
      .map((r) => r.user_id);
  }

  /** POST /v1/rooms/:id/events. `exclude_user`'s sockets get no live copy (see docs). */
  publishEvent(roomId: string, event: RoomProductEvent): Outcome<Delivered> {
    this.bindChannel(`room:${roomId}`);
    return publishProductEvent(this.eventIds, this.retained, event, this.now(), (key) =>
      this.publishToAll(event.type, event.data ?? null, event.exclude_user, key),
    );
  }

  /** GET /v1/rooms/:id/presence: this object's sockets and the shards' users (one connection per shard). */
  presence(roomId: string): Outcome<RoomPresence> {
    const online = onlineUsers(this.sockets.attachments()).map(({ user, connections }) => ({ ...user, connections }));
    for (const { user, shards } of this.shards.users()) {
      const seen = online.find((u) => u.id === user.id);
      if (seen) seen.connections += shards;
      else online.push({ ...user, connections: shards });
    }
    return ok({ room: roomId, online });
  }

  /** Everyone online in the room, each once: this object's sockets, then the shards'. */
  protected onlineRefs(leaving?: Attachment): UserRef[] {
    const here = onlineUsers(this.sockets.attachments(), leaving).map((u) => u.user);
    const ids = new Set(here.map((u) => u.id));
    return [...here, ...this.shards.users().flatMap(({ user }) => (ids.has(user.id) ? [] : [user]))];
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
      online: this.onlineRefs(),
      messages,
      ...(trimmed > 0 ? { messages_trimmed: trimmed } : {}),
      ...this.records(),
    };
  }

  protected override onClientFrame(ws: WebSocket, from: Attachment, frame: ClientFrame): void | Promise<void> {
    if (frame.type === "message") return this.sendMessage(ws, from, parseWith(MessageFrame, frame));
    if (frame.type === "typing") return this.setTyping(ws, from, parseWith(TypingFrame, frame));
    return super.onClientFrame(ws, from, frame);
  }

  private sendMessage(ws: WebSocket, from: Attachment, frame: MessageFrame): void {
    this.ack(ws, frame.ref, this.postMessage(from.user, frame.text, frame.data));
  }

  /** A message from a socket here or on a shard: rate-checked, stamped by the server, logged, sent to all. */
  protected postMessage(user: UserRef, text: string, data: MessageFrame["data"]): { id: string; seq: number } {
    this.limits.takeMessage(user.id, this.now());
    const message: RoomMessage = {
      id: newId(),
      from: user.id,
      ...(user.name !== undefined ? { name: user.name } : {}),
      text,
      ...(data !== undefined ? { data } : {}),
      ts: new Date(this.now()).toISOString(),
    };
    this.limits.checkStored(message);
    const { seq } = this.publishToAll(RoomEvent.Message, message);
    this.shares.noteMessage(seq, user.id);
    return { id: message.id, seq };
  }

  private setTyping(ws: WebSocket, from: Attachment, frame: TypingFrame): void {
    this.typingChanged(from.user, frame.typing);
    if (frame.ref !== undefined) this.ack(ws, frame.ref);
  }

  /** To everyone but the typist's own sockets (their other tabs know already). */
  protected typingChanged(user: UserRef, typing: boolean): void {
    this.limits.takeTyping(user.id, this.now());
    if (typing) {
      this.sql.exec(
        "INSERT INTO typing (user_id, until) VALUES (?, ?) ON CONFLICT(user_id) DO UPDATE SET until = excluded.until",
        user.id,
        this.now() + TYPING_EXPIRES_MS,
      );
    } else {
      this.sql.exec("DELETE FROM typing WHERE user_id = ?", user.id);
    }
    // The others hear one typing frame per user per second at most, however many tabs type.
    if (!this.limits.typingGoesOut(user.id, this.now())) return;
    const data = { user, typing, expires_in_ms: typing ? TYPING_EXPIRES_MS : 0 };
    this.sendToAll(this.frame(RoomEvent.Typing, data), (who) => who.user.id === user.id, user.id);
  }

  protected override onJoin(_ws: WebSocket, who: Attachment): void {
    // Sockets dropped without a close event (a restart) leave stale rows: forget anyone
    // with no open socket here or on a shard besides this new one before deciding. Only a
    // restart drops sockets that way, and this instance is what came after it, so once per
    // instance is enough: every join reading every socket would make a full room's joins quadratic.
    if (!this.droppedForgotten) {
      this.droppedForgotten = true;
      this.forgetDropped(this.sockets.attachments().filter((a) => a.cid !== who.cid));
    }
    this.userJoined(who.user);
  }

  protected override onLeave(ws: WebSocket, who: Attachment): void {
    super.onLeave(ws, who);
    this.userLeft(who.user, who);
  }

  /** presence:join, once per user across this object and the shards; the first one occupies the room. */
  protected userJoined(user: UserRef): void {
    this.webhooks.firstSocket(WebhookEvent.RoomOccupied, { room: this.roomId });
    const added = this.sql.exec("INSERT INTO announced (user_id, name) VALUES (?, ?) ON CONFLICT DO NOTHING", user.id, user.name ?? null);
    if (added.rowsWritten === 0) return;
    this.sendToAll(this.frame(RoomEvent.PresenceJoin, { user }), (other) => other.user.id === user.id, user.id, { user, online: true });
    this.webhooks.queue(WebhookEvent.MemberJoined, { room: this.roomId, user });
  }

  /** presence:leave once the user has no socket here (but `leaving`) nor on any shard; the last one vacates the room. */
  protected userLeft(user: UserRef, leaving?: Attachment): void {
    if (this.sockets.attachments().some((a) => a.user.id === user.id && a.cid !== leaving?.cid) || this.shards.onShards(user.id)) return;
    this.limits.forget(user.id);
    if (this.sql.exec("DELETE FROM announced WHERE user_id = ?", user.id).rowsWritten === 0) return;
    const typing = this.sql.exec<{ until: number }>("SELECT until FROM typing WHERE user_id = ?", user.id).toArray()[0];
    this.sql.exec("DELETE FROM typing WHERE user_id = ?", user.id);
    const isLeaving = (other: Attachment) => other.cid === leaving?.cid;
    if (typing && typing.until > this.now()) {
      this.sendToAll(this.frame(RoomEvent.Typing, { user, typing: false, expires_in_ms: 0 }), isLeaving);
    }
    this.sendToAll(this.frame(RoomEvent.PresenceLeave, { user }), isLeaving, undefined, { user, online: false });
    this.webhooks.queue(WebhookEvent.MemberLeft, { room: this.roomId, user });
    if (this.sql.exec("SELECT 1 FROM announced LIMIT 1").toArray().length === 0)
      this.webhooks.lastSocket(WebhookEvent.RoomVacated, { room: this.roomId });
  }

  protected roomIdOf(channel: string): string {
    return splitChannel(channel)?.rawId ?? "";
  }
}
