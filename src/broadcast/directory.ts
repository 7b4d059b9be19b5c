// Which directory shard lists a user, and the fan-in of a broadcast over every shard.
import { unwrap } from "../errors";
import { log } from "../log";
import type { BroadcastInput } from "../schemas";
import { shardIndex } from "../shards";
import type { DirectoryShard, ShardProgress } from "./directory-shard";

export function directoryShardFor(env: Env, userId: string, count: number): DurableObjectStub<DirectoryShard> {
  return env.DIRECTORY_SHARD.getByName(`directory-${shardIndex(userId, count)}`);
}

export interface BroadcastResult {
  event_id: string;
  /** Users with an open socket when the broadcast started. */
  users: number;
  /** Users it reached so far (their hub had a socket open when it delivered). */
  users_reached: number;
  /** Users still to be called; they are, from the shards' alarms, whether or not anyone waits. */
  pending: number;
  complete: boolean;
  duplicate?: true;
}

/** Every shard at once: each handles only its own users, and answers once it is done or its time is up. */
export async function broadcastToAll(env: Env, input: BroadcastInput, count: number): Promise<BroadcastResult> {
  const shards = await Promise.all(
    Array.from({ length: count }, async (_, i) => unwrap(await env.DIRECTORY_SHARD.getByName(`directory-${i}`).broadcast(input))),
  );
  const sum = (pick: (p: ShardProgress) => number) => shards.reduce((n, p) => n + pick(p), 0);
  const pending = sum((p) => p.pending);
  return {
    event_id: input.event_id,
    users: sum((p) => p.users),
    users_reached: sum((p) => p.reached),
    pending,
    complete: pending === 0,
    ...(shards.every((p) => p.duplicate) ? { duplicate: true as const } : {}),
  };
}

/**
 * A user hub's first socket opening (`online`) or last one closing: fire and forget, so a
 * socket never waits on the directory. A missed leave leaves a ghost that the next
 * broadcast finds and removes; a missed enter is repaired by the user's next first socket.
 */
export function listInDirectory(ctx: DurableObjectState, env: Env, count: number, userId: string, online: boolean): void {
  const shard = directoryShardFor(env, userId, count);
  ctx.waitUntil(
    (online ? shard.enter(userId) : shard.leave(userId)).catch((err: unknown) =>
      log("directory.update_failed", { user: userId, online, error: String(err) }),
    ),
  );
}
