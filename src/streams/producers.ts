// Idempotent producers (protocol section 5.2.1): Kafka-style epochs and sequence numbers.
// A pure decision; the StreamHub applies it and stores the new state with the append.
import type { ProducerClaim } from "./operation";

export interface ProducerState {
  epoch: number;
  lastSeq: number;
}

export type ProducerVerdict =
  /** New data: append it, then store `state`. */
  | { kind: "accept"; state: ProducerState }
  /** Already appended (a retry): answer 204 with the highest accepted seq, append nothing. */
  | { kind: "duplicate"; state: ProducerState }
  /** A zombie from an older epoch: 403 with the current epoch. */
  | { kind: "stale_epoch"; currentEpoch: number }
  /** A new epoch must start at seq 0: 400. */
  | { kind: "bad_epoch_start" }
  /** A gap: 409 with the seq expected next. */
  | { kind: "gap"; expectedSeq: number };

/** `current` is undefined for a producer this stream has not seen (it starts at seq 0). */
export function judgeProducer(current: ProducerState | undefined, claim: ProducerClaim): ProducerVerdict {
  if (current === undefined) {
    return claim.seq === 0 ? { kind: "accept", state: { epoch: claim.epoch, lastSeq: 0 } } : { kind: "gap", expectedSeq: 0 };
  }
  if (claim.epoch < current.epoch) return { kind: "stale_epoch", currentEpoch: current.epoch };
  if (claim.epoch > current.epoch) {
    return claim.seq === 0 ? { kind: "accept", state: { epoch: claim.epoch, lastSeq: 0 } } : { kind: "bad_epoch_start" };
  }
  if (claim.seq <= current.lastSeq) return { kind: "duplicate", state: current };
  if (claim.seq === current.lastSeq + 1) return { kind: "accept", state: { epoch: claim.epoch, lastSeq: claim.seq } };
  return { kind: "gap", expectedSeq: current.lastSeq + 1 };
}

/**
 * Runs tasks one at a time per key, in arrival order. A producer's appends go through
 * it, so that seq 1 never overtakes seq 0 while their bodies are still arriving.
 */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<unknown>>();

  /** Keys with a task queued or running. */
  get busy(): number {
    return this.tails.size;
  }

  async run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const mine = previous.then(task, task);
    this.tails.set(key, mine);
    try {
      return await mine;
    } finally {
      if (this.tails.get(key) === mine) this.tails.delete(key);
    }
  }
}
