import type { Identity } from "../auth/jwt";
import { type Outcome, ok, unwrap } from "../errors";
import type { Attachment, Refusal } from "../hub/connections";
import { Hub } from "../hub/hub";
import type { ClientFrame } from "../hub/intake";
import type { ComponentSchema } from "../hub/migrations";
import type { Timer } from "../hub/timers";
import { HISTORY_ROWS_FACTOR } from "../hubs/message-shares";
import { claimGrants } from "../hubs/room-access";
import { recentMessages } from "../hubs/room-history";
import { RoomLimits } from "../hubs/room-limits";
import { log } from "../log";
import { CloseCode, type RoomEvents, type RoomSnapshot, type UserRef } from "../protocol";
import { MessageFrame, ReadFrame, TypingFrame } from "../schemas";
import { parseWith } from "../validation";
import { ShardMirror } from "./shard-mirror";
import { SHARD_REPORT_MS } from "./shard-plan";
import type { RoomAccessRule, ShardCall, ShardItem, ShardSync } from "./shard-protocol";
import { ShardRecords } from "./shard-records";

const REPORT_TIMER = "shard-report";
/** While it has sockets a shard reports at least this often: fresh counts, and any missed rows. */
const KEEPALIVE_MS = 10_000;
/** A message's ack waits this long for the message itself to come back through the root. */
const ACK_WAIT_MS = 5_000;

/**
 * One shard of a big room: sockets past the room's own object's CHANNEL_SHARD_SOCKETS.
 * It holds a copy of the root's log (resume and the snapshot read it), sends the root's
 * events to its sockets, and passes its sockets' messages, typing and presence to the
 * root, which owns the room's one log, seq and state.
 */
export class RoomShard extends Hub<RoomSnapshot, RoomEvents> {
  private readonly mirror = new ShardMirror(this.sql, this.retention());
  private readonly limits = new RoomLimits(this.config);
  private readonly records = new ShardRecords(this.config.retainedMax);
  private access: RoomAccessRule = { visibility: null, members: [] };
  private online = new Map<string, UserRef>();
  private presenceVersion = -1;
  /** Presence changes that came before this instance caught up: applied after the catch-up's list. */
  private earlyPresence: NonNullable<ShardItem["presence"]>[] = [];
  /** False until this instance has caught up with the root (after a start or a wake-up). */
  private synced = false;
  /** Deliveries and catch-ups run one at a time, in order. */
  private queue: Promise<void> = Promise.resolve();
  private seqWaiters: { seq: number; done: () => void }[] = [];

  protected schema(): ComponentSchema {
    return { component: "room-shard", steps: [] };
  }

  // The same as the room's own log, so a resume works from either.
  protected override retention(): number {
    return this.config.roomHistory * HISTORY_ROWS_FACTOR;
  }

  override async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const shard = Number(url.searchParams.get("shard"));
    const room = url.searchParams.get("room") ?? "";
    if (!Number.isInteger(shard) || shard < 1 || !room)
      return Response.json({ error: { code: "internal", message: "no shard" } }, { status: 500 });
    this.identify(room, shard);
    if (!this.synced) await this.serially(() => this.catchUp("sync"));
    return super.fetch(request);
  }

  /** From the root: its events and frames, in order. */
  async deliver(room: string, shard: number, items: ShardItem[]): Promise<Outcome<null>> {
    this.identify(room, shard);
    await this.serially(async () => {
      let rest = items;
      for (;;) {
        const { live, stoppedAt } = this.mirror.applyUntilGap(rest);
        this.sendOn(live);
        if (stoppedAt === null) break;
        // A missed row: fetch what the root has, then go on with what came after the gap.
        await this.catchUp("report");
        rest = rest.slice(stoppedAt);
      }
    });
    return ok(null);
  }

  /** Remembered in storage: an alarm after a wake-up must know which room and shard this is. */
  private identify(room: string, shard: number): void {
    this.bindChannel(`room:${room}`);
    if (this.events.readMeta("shard") !== String(shard)) this.events.writeMeta("shard", String(shard));
    this.stats.part = shard;
  }

  private get room(): string {
    return this.channel.slice("room:".length);
  }

  private get shard(): number {
    const shard = Number(this.events.readMeta("shard") ?? 0);
    this.stats.part = shard;
    return shard;
  }

  private serially(work: () => Promise<void>): Promise<void> {
    const next = this.queue.then(work);
    this.queue = next.catch((err: unknown) => log("room.shard_error", { room: this.room, shard: this.shard, error: String(err) }));
    return next;
  }

  private rootCall(call: ShardCall): Promise<Outcome<unknown>> {
    return this.env.ROOM_HUB.getByName(this.room).fromShard(this.room, call);
  }

  /** Asks the root for what this copy lacks (and, on "sync", the room's access and who is online). */
  private async catchUp(op: "sync" | "report"): Promise<void> {
    // A sync runs for a socket about to be accepted: count it, so the root sends to this shard from now on.
    const sockets = this.sockets.count() + (op === "sync" ? 1 : 0);
    const call: ShardCall = { op, shard: this.shard, seq: this.mirror.lastSeq, epoch: this.mirror.epoch, sockets };
    const answer = unwrap(await this.rootCall(call)) as ShardSync;
    if (answer.reset) {
      this.mirror.replace(answer.epoch, answer.rows);
      this.events.reload();
    } else this.sendOn(this.mirror.fill(answer.rows));
    if (op === "sync") {
      this.access = answer.access;
      this.online = new Map(answer.online.map((u) => [u.id, u]));
      this.presenceVersion = answer.presenceVersion;
      this.records.sync(answer.retained, answer.reads);
      this.synced = true;
      for (const change of this.earlyPresence.splice(0)) this.notePresence(change);
    }
  }

  /** Sends the root's items to this shard's sockets and keeps the list of who is online. */
  private sendOn(items: ShardItem[]): void {
    if (items.length === 0) return;
    // The base's log reads the copy (resume, `connected`): tell it the copy moved on.
    if (items.some((item) => item.seq !== undefined)) this.events.reload();
    let delivered = 0;
    for (const item of items) {
      if (item.presence) {
        if (this.synced) this.notePresence(item.presence);
        else this.earlyPresence.push(item.presence);
      }
      if (item.access) this.applyAccess(item.access);
      if (!item.frame) continue;
      this.records.note(item.frame);
      const except = item.except;
      // An excluded socket gets a `skip` for a logged event's seq, as on the room's own object.
      const skip = except && item.seq !== undefined ? this.frame("skip", { seq: item.seq }) : undefined;
      const sent = this.sockets.broadcast(item.frame, except ? (who) => who.user.id === except : undefined, skip);
      if (item.seq !== undefined) delivered += sent;
    }
    if (delivered > 0) this.counters.add("delivered", delivered);
    const last = this.mirror.lastSeq;
    for (const waiter of this.seqWaiters.filter((w) => w.seq <= last)) waiter.done();
    this.seqWaiters = this.seqWaiters.filter((w) => w.seq > last);
    this.reportStats();
  }

  private notePresence(change: NonNullable<ShardItem["presence"]>): void {
    if (change.version <= this.presenceVersion) return;
    this.presenceVersion = change.version;
    if (change.online) this.online.set(change.user.id, change.user);
    else this.online.delete(change.user.id);
  }

  /** A producer's PUT: the new rule, and the room's own revocation applied to this shard's sockets. */
  private applyAccess(access: RoomAccessRule): void {
    this.access = access;
    if (access.visibility === "public") return;
    const allowed = new Set(access.members);
    for (const ws of this.sockets.open()) {
      const who = this.sockets.attachmentOf(ws);
      if (!who.claim && !allowed.has(who.user.id)) this.dropSocket(ws, CloseCode.Forbidden, "no longer a member of this room");
    }
  }

  /** A socket let in by the token's `rooms` claim keeps its place whatever a PUT says. */
  protected override attachmentExtras(identity: Identity): Partial<Attachment> {
    return claimGrants(identity.rooms, this.room) ? { claim: true } : {};
  }

  protected admit(identity: Identity): Refusal | null {
    if (this.access.visibility === "public") return null;
    if (claimGrants(identity.rooms, this.room)) return null;
    if (this.access.visibility !== null && this.access.members.includes(identity.id)) return null;
    return { code: CloseCode.Forbidden, reason: "not a member of this room" };
  }

  protected snapshot(): RoomSnapshot {
    const { messages, trimmed } = this.limits.fitSnapshot(recentMessages(this.sql, this.config.roomSnapshotMessages));
    return {
      id: this.room,
      visibility: this.access.visibility ?? "private",
      online: [...this.online.values()],
      messages,
      ...(trimmed > 0 ? { messages_trimmed: trimmed } : {}),
      ...this.records.snapshot(),
    };
  }

  protected override async onClientFrame(ws: WebSocket, from: Attachment, frame: ClientFrame): Promise<void> {
    if (frame.type === "message") {
      const { text, data, ref } = parseWith(MessageFrame, frame);
      const posted = unwrap(await this.rootCall({ op: "message", shard: this.shard, user: from.user, text, data })) as {
        id: string;
        seq: number;
      };
      // The sender sees its message before the ack, as on the room's own object.
      await this.seqReached(posted.seq);
      if (ws.readyState === WebSocket.OPEN) this.ack(ws, ref, posted);
      return;
    }
    if (frame.type === "read") {
      const { up_to, ref } = parseWith(ReadFrame, frame);
      this.ack(ws, ref, unwrap(await this.rootCall({ op: "read", shard: this.shard, user: from.user, up_to })) as { up_to: number });
      return;
    }
    if (frame.type === "typing") {
      const { typing, ref } = parseWith(TypingFrame, frame);
      unwrap(await this.rootCall({ op: "typing", shard: this.shard, user: from.user, typing }));
      if (ref !== undefined) this.ack(ws, ref);
      return;
    }
    return super.onClientFrame(ws, from, frame);
  }

  private seqReached(seq: number): Promise<void> {
    if (this.mirror.lastSeq >= seq) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ACK_WAIT_MS);
      this.seqWaiters.push({
        seq,
        done: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  // Presence goes through the root, once per user across the room: a user's first socket
  // on this shard, and their last one.
  protected override onJoin(_ws: WebSocket, who: Attachment): void {
    if (this.sockets.attachments().filter((a) => a.user.id === who.user.id).length === 1)
      this.tellRoot({ op: "presence", shard: this.shard, user: who.user, online: true });
    this.reportSoon();
  }

  protected override onLeave(_ws: WebSocket, who: Attachment): void {
    const others = this.sockets.attachments().filter((a) => a.user.id === who.user.id && a.cid !== who.cid).length;
    if (others === 0) this.tellRoot({ op: "presence", shard: this.shard, user: who.user, online: false });
    // The last socket is reported at once: the root stops sending to an empty shard.
    // In line with syncs, so a socket joining right after cannot be overtaken by this report.
    if (this.sockets.attachments().every((a) => a.cid === who.cid)) {
      this.timers.clear(REPORT_TIMER);
      this.synced = false;
      const call: ShardCall = { op: "report", shard: this.shard, seq: this.mirror.lastSeq, epoch: this.mirror.epoch, sockets: 0 };
      this.ctx.waitUntil(this.serially(async () => void unwrap(await this.rootCall(call))));
    } else this.reportSoon();
  }

  /** Socket counts reach the root within SHARD_REPORT_MS of a change, coalesced. */
  private reportSoon(): void {
    const due = this.now() + SHARD_REPORT_MS;
    if ((this.timers.dueOf(REPORT_TIMER) ?? Number.POSITIVE_INFINITY) > due) this.timers.set(REPORT_TIMER, due);
  }

  protected override async onTimer(timer: Timer): Promise<void> {
    if (timer.name !== REPORT_TIMER) return super.onTimer(timer);
    if (this.sockets.count() === 0) return;
    await this.serially(() => this.catchUp("report"));
    this.timers.setIfAbsent(REPORT_TIMER, this.now() + KEEPALIVE_MS);
  }

  private tellRoot(call: ShardCall): void {
    this.ctx.waitUntil(
      this.rootCall(call).then(
        (outcome) => {
          if (!outcome.ok)
            log("room.shard_call_refused", { room: this.room, shard: this.shard, op: call.op, error: outcome.error.message });
        },
        (err: unknown) => log("room.shard_call_failed", { room: this.room, shard: this.shard, op: call.op, error: String(err) }),
      ),
    );
  }
}
