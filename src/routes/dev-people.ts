// The demo's people features, played the way a product backend would: a like counter on
// the lobby (a retained value, so a page that joins later shows the count at once) and a
// contact list (so the page can show who of them is online).
import * as v from "valibot";
import { HubError } from "../errors";
import type { AppContext } from "../http";
import { readJson } from "../http";
import type { Produce } from "./dev";

/** The demo room every dev token may join (the `rooms` claim), before any producer PUT. */
export const DEMO_ROOM = "lobby";
/** The lobby's like count is retained under this key. */
export const LOBBY_LIKES_KEY = "likes:lobby";

/** The same name is the same user, so two tabs signed in as "Ada" are one person. */
export function devUserId(name: string): string {
  return `dev-${name
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9_.-]+/g, "-")
    .slice(0, 40)}`;
}

/**
 * One more like on the lobby. The count lives in the lobby's retained value; reading it
 * and posting the next is not atomic, which a demo can live with: a real backend keeps
 * its own count and posts it.
 */
export async function likeTheLobby(c: AppContext, produce: Produce): Promise<Response> {
  const read = await produce(`/v1/rooms/${DEMO_ROOM}/retained`, undefined, "GET");
  const retained = read.ok ? ((await read.json()) as { retained: Record<string, { data: { likes?: number } }> }).retained : {};
  const likes = (retained[LOBBY_LIKES_KEY]?.data.likes ?? 0) + 1;
  const by = c.get("identity").name ?? c.get("identity").id;
  const res = await produce(`/v1/rooms/${DEMO_ROOM}/events`, { type: "like:updated", data: { likes, by }, retain_key: LOBBY_LIKES_KEY });
  if (!res.ok) throw new HubError("internal", `the like was not published (${res.status})`);
  return c.json({ likes });
}

const ContactsBody = v.strictObject({
  names: v.pipe(v.array(v.pipe(v.string(), v.trim(), v.minLength(1), v.maxLength(40))), v.maxLength(20)),
});

/** Sets the signed-in demo user's contacts, by the names they signed in with. */
export async function setMyContacts(c: AppContext, produce: Produce): Promise<Response> {
  const { names } = await readJson(c, ContactsBody);
  const me = c.get("identity").id;
  const byId = new Map(names.map((name) => [devUserId(name), name]));
  byId.delete(me);
  const res = await produce(`/v1/users/${me}/contacts`, { contacts: [...byId.keys()] }, "PUT");
  if (!res.ok) return c.json(await res.json(), res.status as 400);
  return c.json({ contacts: [...byId].map(([id, name]) => ({ id, name })) });
}
