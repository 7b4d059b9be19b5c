import { asHubError, fail, type Outcome, ok } from "../errors";
import type { Attachment } from "../hub/connections";
import type { ChannelStats } from "../hub/counters";
import { IdleExpiringHub } from "../hub/idle-hub";
import type { Json, ReadReceipt, RetainedValue, RoomEvents, RoomSnapshot, RoomVisibility, UserRef } from "../protocol";
import { ROUTE_HEADER } from "./room-router";
import { RoomShards } from "./room-shards";
import type { RoomRoute } from "./shard-plan";
import type { RoomAccessRule, ShardCall, ShardSync } from "./shard-protocol";

/**
 * The room's own object as the root of its shards: it advertises where new sockets go,
 * sends every event and frame on to the shards with sockets, and takes their calls. The
 * room (RoomHub) says who is online, what a message is, and how presence and typing go.
 */
export abstract class ShardedRoom extends IdleExpiringHub<RoomSnapshot, RoomEvents> {
  protected readonly shards = new RoomShards(
    this.sql,
    () => this.stored,
    this.env,
    () => this.roomIdOf(this.channel),
    this.config.channelShardSockets,
    () => this.now(),
  );

  protected abstract get visibility(): RoomVisibility | null;
  protected abstract members(): string[];
  protected abstract onlineRefs(leaving?: Attachment): UserRef[];
  protected abstract postMessage(user: UserRef, text: string, data: Json | undefined): { id: string; seq: number };
  protected abstract typingChanged(user: UserRef, typing: boolean): void;
  protected abstract userJoined(user: UserRef): void;
  protected abstract userLeft(user: UserRef, leaving?: Attachment): void;
  protected abstract records(): { retained: Record<string, RetainedValue>; reads: ReadReceipt[] };
  protected abstract readUpTo(user: UserRef, upTo: number): number;
  protected abstract roomIdOf(channel: string): string;

  /** Logs an event, sends it to this object's sockets and on to every shard with sockets; `retainKey`: see RetainedValues. */
  protected publishToAll(type: string, data: Json | null, exceptUser?: string, retainKey?: string): { seq: number; frame: string } {
    const event = this.publishProduct(type, data, exceptUser ? (who) => who.user.id === exceptUser : undefined, retainKey);
    this.shards.forward({ frame: event.frame, seq: event.seq, type, at: this.now(), ...(exceptUser ? { except: exceptUser } : {}) });
    return event;
  }

  /**
   * An ephemeral frame to this object's sockets (but those `except` picks) and on to the
   * shards (but `exceptUser`'s sockets); a presence change also updates the shards' lists.
   */
  protected sendToAll(
    frame: string,
    except: (who: Attachment) => boolean,
    exceptUser?: string,
    presence?: { user: UserRef; online: boolean },
  ): void {
    this.sockets.broadcast(frame, except);
    const change = presence ? { presence: { ...presence, version: this.bumpPresenceVersion() } } : {};
    this.shards.forward({ frame, ...(exceptUser ? { except: exceptUser } : {}), ...change });
  }

  override async fetch(request: Request): Promise<Response> {
    const response = await super.fetch(request);
    if (response.status !== 101 || !response.webSocket) return response;
    // Workers place the next sockets from this advertisement without asking (room-router.ts).
    const headers = new Headers(response.headers);
    headers.set(ROUTE_HEADER, JSON.stringify(this.shards.route(this.sockets.count())));
    return new Response(null, { status: 101, webSocket: response.webSocket, headers });
  }

  /** Where the next sockets go, for a Worker whose advertisement ran out. */
  route(): Outcome<RoomRoute> {
    return ok(this.shards.route(this.sockets.count()));
  }

  /** A shard's call: catch-up, its socket count, a user's presence there, a message, typing or a read receipt. */
  fromShard(roomId: string, call: ShardCall): Outcome<unknown> {
    if (!this.stored || this.channel !== `room:${roomId}`) return fail("not_found", "no such room");
    switch (call.op) {
      case "sync":
      case "report": {
        const log = { epoch: this.events.epoch, lastSeq: this.events.lastSeq, retention: this.retention() };
        const catchUp = this.shards.report(call.shard, call.sockets, call.seq, call.epoch, log);
        if (call.sockets === 0) for (const user of this.shards.emptied(call.shard)) this.userLeft(user);
        if (call.op === "report") return ok(catchUp);
        const access: RoomAccessRule = { visibility: this.visibility, members: this.members() };
        return ok({
          ...catchUp,
          access,
          online: this.onlineRefs(),
          presenceVersion: this.presenceVersion(),
          ...this.records(),
        } satisfies ShardSync);
      }
      case "presence":
        if (call.online && this.shards.joined(call.shard, call.user)) this.userJoined(call.user);
        if (!call.online && this.shards.left(call.shard, call.user.id)) this.userLeft(call.user);
        return ok(null);
      case "message":
      case "typing":
      case "read":
        // A refusal (a rate limit) goes back to the shard as data: classes do not cross RPC.
        try {
          if (call.op === "message") return ok(this.postMessage(call.user, call.text, call.data as Json | undefined));
          if (call.op === "read") return ok({ up_to: this.readUpTo(call.user, call.up_to) });
          this.typingChanged(call.user, call.typing);
          return ok(null);
        } catch (err) {
          return { ok: false, error: asHubError(err).toPayload() };
        }
    }
  }

  protected override onWiped(): void {
    this.shards.forget();
  }

  /** Sockets on the shards keep the room as its own sockets do. */
  protected override idleHold(now: number): number {
    return this.shards.inUse().sockets > 0 ? now + this.idleTtlMs() : 0;
  }

  /** Orders presence changes, so a shard never applies an older list over a newer change. */
  private presenceVersion(): number {
    return Number(this.events.readMeta("presence_version") ?? 0);
  }

  private bumpPresenceVersion(): number {
    const next = this.presenceVersion() + 1;
    this.events.writeMeta("presence_version", String(next));
    return next;
  }

  /** GET /v1/rooms/:id/stats: also how many shard objects hold sockets, and how many sockets. */
  override channelStats(): Outcome<ChannelStats & { shards: number; shard_sockets: number }> {
    const stats = super.channelStats();
    if (!stats.ok) return stats;
    const { shards, sockets } = this.shards.inUse();
    return ok({ ...stats.value, shards, shard_sockets: sockets });
  }
}
