import type { Identity } from "../auth/jwt";
import { splitChannel } from "../channel-kinds";
import { fail, HubError, type Outcome, ok } from "../errors";
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
  type HistoryPage,
  type RetainedValue,
  RoomEvent,
  type RoomEvents,
  type RoomMessage,
  type RoomPresence,
  type RoomSnapshot,
  type RoomVisibility,
  TYPING_EXPIRES_MS,
} from "../protocol";
import { MessageFrame, ReadFrame, type RoomProductEvent, type RoomSettings, TypingFrame } from "../schemas";
import { parseWith } from "../validation";
import { type Delivered, PUBLISHED_EVENTS_TABLE, publishProductEvent } from "./product-events";
import { READ_RECEIPTS_SCHEMA, READS_TIMER, ReadReceipts } from "./read-receipts";
import { messagesBefore, recentMessages } from "./room-history";
import { onlineUsers, otherConnections } from "./room-presence";

/** Who may join a room, as a producer's PUT set it. */
export interface RoomAccess {
  id: string;
  visibility: RoomVisibility;
  members: string[];
  updated_at: string;
}

/** Does a `rooms` claim grant `roomId`? A trailing `*` is a prefix match. */
export function claimGrants(claim: readonly string[], roomId: string): boolean {
  return claim.some((entry) => (entry.endsWith("*") ? roomId.startsWith(entry.slice(0, -1)) : entry === roomId));
}

/**
 * One room: who may join (visibility, members), its chat history in the event log, who
 * is online, and who is typing. Presence is derived from the sockets' attachments, so it
 * is right after hibernation without any bookkeeping of its own.
 */
export class RoomHub extends Hub<RoomSnapshot, RoomEvents> {
  private visibilityCache: RoomVisibility | null | undefined;
  private readonly retained: RetainedValues;
  private readonly reads: ReadReceipts;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.retained = new RetainedValues(this.sql, { maxValues: this.config.retainedMax, maxBytes: this.config.retainedMaxBytes });
    this.reads = new ReadReceipts(this.sql);
  }

  protected schema(): ComponentSchema {
    return {
      component: "room",
      steps: [
        "CREATE TABLE room (singleton INTEGER PRIMARY KEY CHECK (singleton = 1), visibility TEXT NOT NULL, updated_at INTEGER NOT NULL)",
        "CREATE TABLE members (user_id TEXT PRIMARY KEY)",
        // Who is typing until when: lets the last tab's close send typing:false without a timer.
        "CREATE TABLE typing (user_id TEXT PRIMARY KEY, until INTEGER NOT NULL)",
        // Users whose presence:join went out and whose presence:leave has not: when two
        // tabs close at once each may see the other as already closing, and this keeps
        // the leave to one.
        "CREATE TABLE announced (user_id TEXT PRIMARY KEY)",
        PUBLISHED_EVENTS_TABLE,
        ...moveIntoEventIds("published_events", "json_object('seq', seq)"),
        ...RETAINED_SCHEMA,
        ...READ_RECEIPTS_SCHEMA,
      ],
    };
  }

  // The room's history is its event log: resume and the snapshot's messages both read it.
  protected override retention(): number {
    return this.config.roomHistory;
  }

  /** Null until a producer has PUT the room: such a room admits only `rooms` claims. */
  private get visibility(): RoomVisibility | null {
    if (this.visibilityCache === undefined) {
      const row = this.sql.exec<{ visibility: string }>("SELECT visibility FROM room").toArray()[0];
      this.visibilityCache = (row?.visibility as RoomVisibility | undefined) ?? null;
    }
    return this.visibilityCache;
  }

  /** PUT /v1/rooms/:id. Replaces visibility and the member list (absent = no members). */
  configure(roomId: string, settings: RoomSettings): Outcome<RoomAccess> {
    this.bindChannel(`room:${roomId}`);
    const now = this.now();
    this.sql.exec(
      "INSERT INTO room (singleton, visibility, updated_at) VALUES (1, ?, ?) ON CONFLICT(singleton) DO UPDATE SET visibility = excluded.visibility, updated_at = excluded.updated_at",
      settings.visibility,
      now,
    );
    this.sql.exec("DELETE FROM members");
    for (const member of new Set(settings.members ?? [])) this.sql.exec("INSERT INTO members (user_id) VALUES (?)", member);
    this.visibilityCache = settings.visibility;
    const members = this.sql
      .exec<{ user_id: string }>("SELECT user_id FROM members ORDER BY user_id")
      .toArray()
      .map((r) => r.user_id);
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
    if (!this.channel) return fail("not_found", "no such room");
    return ok(messagesBefore(this.sql, roomId, before, limit));
  }

  /** GET /v1/rooms/:id/retained. */
  retainedValues(roomId: string): Outcome<{ room: string; retained: Record<string, RetainedValue> }> {
    return ok({ room: roomId, retained: this.retained.all() });
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

  protected snapshot(): RoomSnapshot {
    return {
      id: this.roomIdOf(this.channel),
      visibility: this.visibility ?? "private",
      online: onlineUsers(this.sockets.attachments()).map((u) => u.user),
      messages: recentMessages(this.sql, this.config.roomSnapshotMessages),
      retained: this.retained.all(),
      reads: this.reads.latest(),
    };
  }

  protected override onClientFrame(ws: WebSocket, from: Attachment, frame: ClientFrame): void | Promise<void> {
    if (frame.type === "message") return this.sendMessage(ws, from, parseWith(MessageFrame, frame));
    if (frame.type === "typing") return this.setTyping(ws, from, parseWith(TypingFrame, frame));
    if (frame.type === "read") return this.markRead(ws, from, parseWith(ReadFrame, frame));
    return super.onClientFrame(ws, from, frame);
  }

  private sendMessage(ws: WebSocket, from: Attachment, frame: MessageFrame): void {
    const message: RoomMessage = {
      id: newId(),
      from: from.user.id,
      ...(from.user.name !== undefined ? { name: from.user.name } : {}),
      text: frame.text,
      ...(frame.data !== undefined ? { data: frame.data } : {}),
      ts: new Date(this.now()).toISOString(),
    };
    const { seq } = this.publish(RoomEvent.Message, message);
    this.ack(ws, frame.ref, { id: message.id, seq });
  }

  private setTyping(ws: WebSocket, from: Attachment, frame: TypingFrame): void {
    if (frame.typing) {
      this.sql.exec(
        "INSERT INTO typing (user_id, until) VALUES (?, ?) ON CONFLICT(user_id) DO UPDATE SET until = excluded.until",
        from.user.id,
        this.now() + TYPING_EXPIRES_MS,
      );
    } else {
      this.sql.exec("DELETE FROM typing WHERE user_id = ?", from.user.id);
    }
    this.sendTyping(from, frame.typing);
    if (frame.ref !== undefined) this.ack(ws, frame.ref);
  }

  /** Stores the reader's position; the room hears of it now or, within a second of the last, from the timer. */
  private markRead(ws: WebSocket, from: Attachment, frame: ReadFrame): void {
    const latest = this.events.lastSeq;
    if (frame.up_to > latest) throw new HubError("validation_failed", `up_to is after the room's latest seq (${latest})`);
    const verdict = this.reads.record(from.user, frame.up_to, this.now());
    if (verdict && "send" in verdict) this.sockets.broadcast(this.frame(RoomEvent.Read, verdict.send));
    if (verdict && "laterAt" in verdict) this.timers.setIfAbsent(READS_TIMER, verdict.laterAt);
    this.ack(ws, frame.ref, { up_to: this.reads.upTo(from.user.id) });
  }

  protected override onTimer(timer: Timer): void | Promise<void> {
    if (timer.name !== READS_TIMER) return super.onTimer(timer);
    const { receipts, nextAt } = this.reads.takeDue(this.now());
    for (const receipt of receipts) this.sockets.broadcast(this.frame(RoomEvent.Read, receipt));
    if (nextAt !== null) this.timers.set(READS_TIMER, nextAt);
  }

  /** To everyone but the typist's own sockets (their other tabs know already). */
  private sendTyping(from: Attachment, typing: boolean): void {
    const data = { user: from.user, typing, expires_in_ms: typing ? TYPING_EXPIRES_MS : 0 };
    this.sockets.broadcast(this.frame(RoomEvent.Typing, data), (who) => who.user.id === from.user.id);
  }

  protected override onJoin(_ws: WebSocket, who: Attachment): void {
    // Sockets dropped without a close event (a restart) leave stale rows: forget anyone
    // with no open socket besides this new one before deciding.
    const online = new Set(onlineUsers(this.sockets.attachments(), who).map((u) => u.user.id));
    for (const { user_id } of this.sql.exec<{ user_id: string }>("SELECT user_id FROM announced").toArray()) {
      if (!online.has(user_id)) this.sql.exec("DELETE FROM announced WHERE user_id = ?", user_id);
    }
    if (this.sql.exec("INSERT INTO announced (user_id) VALUES (?) ON CONFLICT DO NOTHING", who.user.id).rowsWritten === 0) return;
    this.sockets.broadcast(this.frame(RoomEvent.PresenceJoin, { user: who.user }), (other) => other.user.id === who.user.id);
  }

  protected override onLeave(_ws: WebSocket, who: Attachment): void {
    if (otherConnections(this.sockets.attachments(), who.user.id, who) > 0) return;
    if (this.sql.exec("DELETE FROM announced WHERE user_id = ?", who.user.id).rowsWritten === 0) return;
    const typing = this.sql.exec<{ until: number }>("SELECT until FROM typing WHERE user_id = ?", who.user.id).toArray()[0];
    this.sql.exec("DELETE FROM typing WHERE user_id = ?", who.user.id);
    const isLeaving = (other: Attachment) => other.cid === who.cid;
    if (typing && typing.until > this.now()) {
      this.sockets.broadcast(this.frame(RoomEvent.Typing, { user: who.user, typing: false, expires_in_ms: 0 }), isLeaving);
    }
    this.sockets.broadcast(this.frame(RoomEvent.PresenceLeave, { user: who.user }), isLeaving);
  }

  private roomIdOf(channel: string): string {
    return splitChannel(channel)?.rawId ?? "";
  }
}
