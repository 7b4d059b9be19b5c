// The root's side of a sharded room: which shard objects hold sockets (as they report),
// the advertisement of where new sockets go, the per-shard send queues, and who is online
// on the shards. The root keeps the one log, seq and state; shards keep copies.
import { unwrap } from "../errors";
import { log } from "../log";
import type { UserRef } from "../protocol";
import { ShardFanout } from "./shard-fanout";
import { rowsAfter } from "./shard-mirror";
import { planRoute, type RoomRoute, type ShardLoad } from "./shard-plan";
import type { LogRow, ShardItem } from "./shard-protocol";

/** Steps of the room's own schema (created with the room's other tables, on its first write). */
export const ROOM_SHARDS_SCHEMA = [
  "CREATE TABLE room_shards (shard INTEGER PRIMARY KEY, sockets INTEGER NOT NULL, reported_at INTEGER NOT NULL)",
  // One row per user and shard where the user has a socket: presence across shards.
  "CREATE TABLE shard_presence (user_id TEXT NOT NULL, shard INTEGER NOT NULL, user TEXT NOT NULL, PRIMARY KEY (user_id, shard))",
];

/** The name of a room's shard object. `#` is not an id character, so no room can take it. */
export function shardName(roomId: string, shard: number): string {
  return `${roomId}#${shard}`;
}

/** What a shard needs to catch up: the root's epoch and the rows after its seq (or all, on reset). */
export interface CatchUp {
  epoch: string;
  rows: LogRow[];
  reset: boolean;
}

export interface RootLog {
  epoch: string;
  lastSeq: number;
  retention: number;
}

export class RoomShards {
  private readonly fanout: ShardFanout;
  /** Places advertised on shards and not yet in their reports (Workers may be using them). */
  private grants: { at: number; shard: number; n: number }[] = [];
  private activeCache: number[] | undefined;

  /** `stored` is false until the room's first write: reads then answer "no shards" without touching storage. */
  constructor(
    private readonly sql: SqlStorage,
    private readonly stored: () => boolean,
    private readonly env: Env,
    private readonly roomId: () => string,
    private readonly threshold: number,
    private readonly now: () => number,
  ) {
    this.fanout = new ShardFanout(
      async (shard, items) => {
        unwrap(await this.env.ROOM_SHARD.getByName(shardName(this.roomId(), shard)).deliver(this.roomId(), shard, items));
      },
      (shard, err) => log("room.shard_send_failed", { room: this.roomId(), shard, error: String(err) }),
    );
  }

  /** After a wipe: nothing cached survives. */
  forget(): void {
    this.activeCache = undefined;
    this.grants = [];
  }

  /** Shards with sockets, as last reported: the only ones events are sent to. */
  active(): number[] {
    if (!this.stored()) return [];
    this.activeCache ??= this.sql
      .exec<{ shard: number }>("SELECT shard FROM room_shards WHERE sockets > 0 ORDER BY shard")
      .toArray()
      .map((r) => r.shard);
    return this.activeCache;
  }

  inUse(): { shards: number; sockets: number } {
    if (!this.stored()) return { shards: 0, sockets: 0 };
    const row = this.sql
      .exec<{ shards: number; sockets: number | null }>(
        "SELECT COUNT(*) AS shards, SUM(sockets) AS sockets FROM room_shards WHERE sockets > 0",
      )
      .one();
    return { shards: row.shards, sockets: row.sockets ?? 0 };
  }

  /** Where new sockets go; shard places it hands out count as taken until the shard reports. */
  route(rootSockets: number): RoomRoute {
    const now = this.now();
    const rows = this.stored()
      ? this.sql.exec<{ shard: number; sockets: number; reported_at: number }>("SELECT * FROM room_shards ORDER BY shard").toArray()
      : [];
    const bySlot = new Map(rows.map((r) => [r.shard, r]));
    this.grants = this.grants.filter((g) => g.at > (bySlot.get(g.shard)?.reported_at ?? 0) && now - g.at < 10_000);
    // A shard granted places but not yet reporting counts too, or each ask would open it afresh.
    const count = Math.max(0, ...rows.map((r) => r.shard), ...this.grants.map((g) => g.shard));
    const loads: ShardLoad[] = Array.from({ length: count }, (_, i) => ({
      sockets: (bySlot.get(i + 1)?.sockets ?? 0) + this.grants.filter((g) => g.shard === i + 1).reduce((n, g) => n + g.n, 0),
    }));
    const route = planRoute(this.threshold, rootSockets, loads);
    // Only a full root sends Workers to the shards; until then their places are not taken.
    if (route.root === 0) {
      for (const [i, n] of route.shards.entries()) if (n > 0) this.grants.push({ at: now, shard: i + 1, n });
    }
    return route;
  }

  /** Sends an event or frame on to every shard with sockets, in order, batched per shard. */
  forward(item: ShardItem): void {
    const shards = this.active();
    if (shards.length > 0) this.fanout.push(shards, item);
  }

  /** A shard's socket count; a shard with none is sent nothing more. Answers the rows it lacks. */
  report(shard: number, sockets: number, seq: number, epoch: string | null, log: RootLog): CatchUp {
    this.sql.exec(
      "INSERT INTO room_shards (shard, sockets, reported_at) VALUES (?, ?, ?) ON CONFLICT(shard) DO UPDATE SET sockets = excluded.sockets, reported_at = excluded.reported_at",
      shard,
      sockets,
      this.now(),
    );
    this.activeCache = undefined;
    return this.catchUp(seq, epoch, log);
  }

  /** Rows after `seq`, or the whole retained log when the shard's copy cannot continue from it. */
  catchUp(seq: number, epoch: string | null, log: RootLog): CatchUp {
    if (epoch === log.epoch && seq === log.lastSeq) return { epoch: log.epoch, rows: [], reset: false };
    const rows = epoch === log.epoch && seq < log.lastSeq ? rowsAfter(this.sql, seq, log.retention) : [];
    if (rows[0]?.seq === seq + 1) return { epoch: log.epoch, rows, reset: false };
    return { epoch: log.epoch, rows: rowsAfter(this.sql, 0, log.retention), reset: true };
  }

  /** A user's first socket on a shard: true when the user was on no shard before. */
  joined(shard: number, user: UserRef): boolean {
    const before = this.onShards(user.id);
    this.sql.exec("INSERT OR IGNORE INTO shard_presence (user_id, shard, user) VALUES (?, ?, ?)", user.id, shard, JSON.stringify(user));
    return !before;
  }

  /** A user's last socket on a shard closed: true when the user is on no shard now. */
  left(shard: number, userId: string): boolean {
    this.sql.exec("DELETE FROM shard_presence WHERE user_id = ? AND shard = ?", userId, shard);
    return !this.onShards(userId);
  }

  /** A shard that reported no sockets: its users' presence goes; answers those now on no shard. */
  emptied(shard: number): UserRef[] {
    const users = this.sql
      .exec<{ user_id: string; user: string }>("SELECT user_id, user FROM shard_presence WHERE shard = ?", shard)
      .toArray();
    this.sql.exec("DELETE FROM shard_presence WHERE shard = ?", shard);
    return users.filter((u) => !this.onShards(u.user_id)).map((u) => JSON.parse(u.user) as UserRef);
  }

  onShards(userId: string): boolean {
    if (!this.stored()) return false;
    return this.sql.exec("SELECT 1 FROM shard_presence WHERE user_id = ? LIMIT 1", userId).toArray().length > 0;
  }

  /** Users with a socket on some shard, each once, with how many shards they are on. */
  users(): { user: UserRef; shards: number }[] {
    if (!this.stored()) return [];
    return this.sql
      .exec<{ user: string; n: number }>("SELECT MIN(user) AS user, COUNT(*) AS n FROM shard_presence GROUP BY user_id ORDER BY MIN(rowid)")
      .toArray()
      .map((r) => ({ user: JSON.parse(r.user) as UserRef, shards: r.n }));
  }
}
