// What a room keeps beyond its chat's live flow: the retained values producers set, the
// members' read receipts, and history pages back through the log. RoomHub extends this;
// the root of a sharded room hands the values and receipts to its shards (ShardSync).
import type { Identity } from "../auth/jwt";
import { fail, type Outcome, ok } from "../errors";
import type { Attachment } from "../hub/connections";
import type { ClientFrame } from "../hub/intake";
import { RetainedValues } from "../hub/retained";
import type { Timer } from "../hub/timers";
import { type HistoryPage, type ReadReceipt, type RetainedValue, RoomEvent, type UserRef } from "../protocol";
import { ShardedRoom } from "../rooms/sharded-room";
import { ReadFrame } from "../schemas";
import { parseWith } from "../validation";
import { READS_TIMER, ReadReceipts, type ReceiptOutlet } from "./read-receipts";
import { messagesBefore } from "./room-history";

export abstract class RoomRecords extends ShardedRoom {
  protected readonly retained = new RetainedValues(this.sql, {
    maxValues: this.config.retainedMax,
    maxBytes: this.config.retainedMaxBytes,
  });
  protected readonly reads = new ReadReceipts(this.sql);
  // Receipts go to the shards' sockets too; the timer sends the ones held back.
  private readonly receiptOutlet: ReceiptOutlet = {
    send: (receipt) => this.sendToAll(this.frame(RoomEvent.Read, receipt), () => false),
    timer: (at, replace) => (replace ? this.timers.set(READS_TIMER, at) : this.timers.setIfAbsent(READS_TIMER, at)),
  };

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

  /** What a joining socket sees besides messages and presence, here or on a shard. */
  protected records(): { retained: Record<string, RetainedValue>; reads: ReadReceipt[] } {
    return { retained: this.retained.all(), reads: this.reads.latest() };
  }

  /** A `read {up_to}` from a socket here or on a shard: answers the reader's stored position. */
  protected readUpTo(user: UserRef, upTo: number): number {
    return this.reads.take(user, upTo, this.events.lastSeq, this.now(), this.receiptOutlet);
  }

  protected override onClientFrame(ws: WebSocket, from: Attachment, frame: ClientFrame): void | Promise<void> {
    if (frame.type !== "read") return super.onClientFrame(ws, from, frame);
    const { up_to, ref } = parseWith(ReadFrame, frame);
    this.ack(ws, ref, { up_to: this.readUpTo(from.user, up_to) });
  }

  protected override onTimer(timer: Timer): void | Promise<void> {
    if (timer.name === READS_TIMER) return this.reads.flush(this.now(), this.receiptOutlet);
    return super.onTimer(timer);
  }
}
