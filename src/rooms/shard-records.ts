// A shard's copy of the room's retained values and read receipts, for the `connected`
// snapshot of its sockets: taken from the root's sync, then kept current from the events
// (a `retain_key` on the frame) and `read` frames the root sends on. Memory only: a shard
// that wakes syncs again before it admits a socket.
import { READS_SNAPSHOT_MAX } from "../hubs/read-receipts";
import { type ReadReceipt, type RetainedValue, RoomEvent, type ServerFrame } from "../protocol";

export class ShardRecords {
  private retained = new Map<string, RetainedValue>();
  /** By user id, the most recent last (a Map keeps insertion order). */
  private reads = new Map<string, ReadReceipt>();

  constructor(private readonly maxValues: number) {}

  /** The root's values and receipts at sync time (receipts newest first, as the snapshot has them). */
  sync(retained: Record<string, RetainedValue>, reads: ReadReceipt[]): void {
    this.retained = new Map(Object.entries(retained));
    this.reads = new Map([...reads].reverse().map((r) => [r.user.id, r]));
  }

  /** A frame the root sent on: a retained event replaces its key's value, a `read` its user's receipt. */
  note(text: string): void {
    if (!text.includes('"retain_key"') && !text.includes(`"type":"${RoomEvent.Read}"`)) return;
    const frame = JSON.parse(text) as ServerFrame & { retain_key?: string };
    if (frame.type === RoomEvent.Read) {
      const receipt = frame.data as ReadReceipt;
      this.reads.delete(receipt.user.id);
      this.reads.set(receipt.user.id, receipt);
      if (this.reads.size > READS_SNAPSHOT_MAX) this.reads.delete(this.reads.keys().next().value as string);
    } else if (frame.retain_key !== undefined && frame.seq !== undefined) {
      this.retained.delete(frame.retain_key);
      this.retained.set(frame.retain_key, { type: frame.type, data: frame.data ?? null, seq: frame.seq, ts: frame.ts });
      // The root drops the value set longest ago first; so does the copy (bytes are the root's to bound).
      if (this.retained.size > this.maxValues) this.retained.delete(this.retained.keys().next().value as string);
    }
  }

  snapshot(): { retained: Record<string, RetainedValue>; reads: ReadReceipt[] } {
    return { retained: Object.fromEntries(this.retained), reads: [...this.reads.values()].reverse() };
  }
}
