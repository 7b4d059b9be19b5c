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
/** Rooms remembered per isolate; the oldest goes first. */
const MAX_ROOMS = 1_000;

const routes = new Map<string, { route: RoomRoute; at: number }>();

/**
 * Where a new socket of `roomId` goes: a slot of a fresh advertisement, else the root
 * (whose answer carries a fresh one). `ask` fetches an advertisement from the root, and is
 * used only when a fresh one has no slot left; null then means the room is full.
 */
export async function placeSocket(roomId: string, cid: string, now: number, ask: () => Promise<RoomRoute>): Promise<Part | null> {
  const known = routes.get(roomId);
  if (!known || now - known.at > ROUTE_TTL_MS) return "root";
  const part = pickPart(known.route, hashName(cid));
  if (part !== null) return part;
  const route = await ask();
  remember(roomId, route, now);
  return pickPart(route, hashName(cid));
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
}
