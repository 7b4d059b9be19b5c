// The Worker's side of placing a room socket: the root's last advertisement per room,
// kept in the isolate for a few seconds, so placing a socket costs no call to the root
// until the advertisement's slots run out.
import { unwrap } from "../errors";
import { hashName } from "../shards";
import { shardName } from "./room-shards";
import { type Part, pickPart, ROUTE_TTL_MS, type RoomRoute } from "./shard-plan";

/** The root adds its advertisement to every socket it accepts, under this header. */
export const ROUTE_HEADER = "x-dovetail-room-route";
/** What the Worker forwards a socket upgrade to (the host is never resolved). */
export const CONNECT_URL = "https://hub.internal/connect";
/** Asks one placement may wait through when others take the slots first. */
const MAX_ASKS = 50;
/** Rooms remembered per isolate; the oldest goes first. */
const MAX_ROOMS = 1_000;

const routes = new Map<string, { route: RoomRoute; at: number }>();
/**
 * Asks in flight, by room. Sockets placed while one is out wait for its answer instead of
 * asking too: each answer grants places on every open shard, and the root counts them as
 * taken, so parallel asks would make it open shards nobody fills.
 */
const asking = new Map<string, Promise<{ route: RoomRoute; full: boolean }>>();

/**
 * Where a new socket of `roomId` goes: a slot of a fresh advertisement, else one of a new
 * advertisement from `ask` (one ask at a time per room), or the root when nothing is known
 * yet (its answer carries an advertisement). Null: the room is full.
 */
export async function placeSocket(roomId: string, cid: string, now: number, ask: () => Promise<RoomRoute>): Promise<Part | null> {
  const known = routes.get(roomId);
  if (known && now - known.at <= ROUTE_TTL_MS) {
    const part = pickPart(known.route, hashName(cid));
    if (part !== null) return part;
  } else if (!known && !asking.has(roomId)) return "root";
  // Sockets that shared an answer may find its slots taken by the others: ask again (each
  // answer has a grant's worth at least), and past MAX_ASKS let the root take the socket.
  for (let tries = 0; tries < MAX_ASKS; tries++) {
    const { route, full } = await askOnce(roomId, now, ask);
    const part = pickPart(route, hashName(cid));
    if (part !== null || full) return part;
  }
  return "root";
}

/** The answer of the ask in flight for `roomId`, or of a new one; `full` as the root answered, before anyone took a slot. */
function askOnce(roomId: string, now: number, ask: () => Promise<RoomRoute>): Promise<{ route: RoomRoute; full: boolean }> {
  let pending = asking.get(roomId);
  if (!pending) {
    pending = ask()
      .then((route) => {
        remember(roomId, route, now);
        return { route, full: route.root === 0 && route.shards.every((slots) => slots === 0) };
      })
      .finally(() => asking.delete(roomId));
    asking.set(roomId, pending);
  }
  return pending;
}

/** Takes the advertisement off the root's answer (a JSON RoomRoute), if it has one. */
export function noteAdvertisement(roomId: string, header: string | null, now: number): void {
  if (!header) return;
  try {
    const route = JSON.parse(header) as RoomRoute;
    if (typeof route.root === "number" && Array.isArray(route.shards)) remember(roomId, route, now);
  } catch {
    // A malformed header only costs the next socket a trip to the root.
  }
}

function remember(roomId: string, route: RoomRoute, now: number): void {
  routes.delete(roomId);
  routes.set(roomId, { route, at: now });
  if (routes.size > MAX_ROOMS) routes.delete(routes.keys().next().value as string);
}

/**
 * Where a room socket goes: the room's own object or one of its shards, and the request
 * to forward there (a shard learns its room and number from it). Null: the room is full.
 */
export async function roomTarget(
  env: Env,
  roomId: string,
  cid: string,
): Promise<{ stub: Fetcher | DurableObjectStub; url: string; root: boolean } | null> {
  const part = await placeSocket(roomId, cid, Date.now(), async () => unwrap(await env.ROOM_HUB.getByName(roomId).route()));
  if (part === null) return null;
  if (part === "root") return { stub: env.ROOM_HUB.getByName(roomId), url: CONNECT_URL, root: true };
  const url = `${CONNECT_URL}?room=${encodeURIComponent(roomId)}&shard=${part}`;
  return { stub: env.ROOM_SHARD.getByName(shardName(roomId, part)), url, root: false };
}

/** Tests: forget every advertisement. */
export function forgetRoutes(): void {
  routes.clear();
  asking.clear();
}
