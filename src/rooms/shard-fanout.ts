// The root's side of sending on: one queue per shard, at most one call in flight to each,
// and whatever queued up meanwhile goes in the next call. A call that fails is logged and
// dropped: the shard sees the gap in seq on its next delivery or report and fetches it.
import type { ShardItem } from "./shard-protocol";

export type SendToShard = (shard: number, items: ShardItem[]) => Promise<void>;

export class ShardFanout {
  private readonly queues = new Map<number, ShardItem[]>();
  private readonly busy = new Set<number>();

  constructor(
    private readonly send: SendToShard,
    private readonly failed: (shard: number, err: unknown) => void,
  ) {}

  /** Queues `item` for each shard and starts a call to any shard with none in flight. */
  push(shards: readonly number[], item: ShardItem): void {
    for (const shard of shards) {
      const queue = this.queues.get(shard);
      if (queue) queue.push(item);
      else this.queues.set(shard, [item]);
      this.pump(shard);
    }
  }

  /** Items waiting (not yet in a call), for tests and stats. */
  queued(shard: number): number {
    return this.queues.get(shard)?.length ?? 0;
  }

  private pump(shard: number): void {
    if (this.busy.has(shard)) return;
    const batch = this.queues.get(shard);
    if (!batch || batch.length === 0) return;
    this.queues.delete(shard);
    this.busy.add(shard);
    this.send(shard, batch)
      .catch((err: unknown) => this.failed(shard, err))
      .finally(() => {
        this.busy.delete(shard);
        this.pump(shard);
      });
  }
}
