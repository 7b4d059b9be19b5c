// Where a big room's next sockets go: the room's own object until it holds
// CHANNEL_SHARD_SOCKETS, then its shard objects. The room's object decides (planRoute) and
// advertises the answer; Workers place sockets from the advertisement without asking
// again until its slots run out or it is a few seconds old (pickPart).

/** The most shard objects one room uses: MAX_ROOM_SHARDS x CHANNEL_SHARD_SOCKETS sockets. */
export const MAX_ROOM_SHARDS = 64;
/** How long a Worker trusts an advertisement. */
export const ROUTE_TTL_MS = 5_000;
/** Shards report their sockets at most this often; grants younger than this are not in the reports yet. */
export const SHARD_REPORT_MS = 250;

/**
 * Free places by part: `root` in the room's own object, `shards[i - 1]` in shard i.
 * Slots are a grant, a tenth of a shard at most; a Worker asks for one at a time per room
 * (room-router.ts), and a part overshoots by about the sockets still on their way to it
 * when it reports.
 */
export interface RoomRoute {
  root: number;
  shards: number[];
}

export interface ShardLoad {
  /** Sockets the shard last reported, plus places granted since that report. */
  sockets: number;
}

export function grantSize(threshold: number): number {
  return Math.max(1, Math.floor(threshold / 10));
}

/**
 * The advertisement. `shards` lists every shard in use (and one more when the ones in use
 * are nearly full), so a new socket may land on any of them; a full room (every shard at
 * the threshold) advertises no slots, and the Worker then refuses the socket.
 */
export function planRoute(threshold: number, rootSockets: number, loads: ShardLoad[]): RoomRoute {
  const grant = grantSize(threshold);
  const root = Math.max(0, Math.min(grant, threshold - rootSockets));
  const shards = loads.map((load) => Math.max(0, Math.min(grant, threshold - load.sockets)));
  // Open another shard once the free places left are below one grant.
  const free = shards.reduce((a, b) => a + b, 0);
  if (root === 0 && free < grant && shards.length < MAX_ROOM_SHARDS) shards.push(grant);
  return { root, shards };
}

/** "root", a shard index (1-based), or null when the advertisement has no slot left. */
export type Part = "root" | number;

/**
 * Takes one slot from a route (mutating it): the root first, then a shard picked by the
 * connection id's hash among those with slots, so parallel Workers spread their sockets.
 */
export function pickPart(route: RoomRoute, hash: number): Part | null {
  if (route.root > 0) {
    route.root -= 1;
    return "root";
  }
  const open = route.shards.flatMap((slots, i) => (slots > 0 ? [i] : []));
  if (open.length === 0) return null;
  const i = open[hash % open.length] as number;
  route.shards[i] = (route.shards[i] as number) - 1;
  return i + 1;
}
