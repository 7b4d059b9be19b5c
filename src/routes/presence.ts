import { Hono } from "hono";
import { HubError, unwrap } from "../errors";
import { type AppEnv, userOnly } from "../http";
import { isValidId } from "../ids";

export const presenceRoutes = new Hono<AppEnv>();

/** Users one GET /v1/presence may ask about. */
export const PRESENCE_QUERY_MAX = 100;

/**
 * `?users=a,b,c`: online state and last-seen time of the signed-in user's contacts (the
 * producer's list or the token's `watch` claim), in the order asked. Anyone else is a 403:
 * online status is not public.
 */
presenceRoutes.get("/presence", userOnly, async (c) => {
  const identity = c.get("identity");
  const raw = c.req.query("users") ?? "";
  const ids = [...new Set(raw.split(","))];
  if (raw === "" || ids.length > PRESENCE_QUERY_MAX || !ids.every(isValidId)) {
    throw new HubError("validation_failed", `users must be 1-${PRESENCE_QUERY_MAX} comma-separated user ids`);
  }
  const claimed = new Set([identity.id, ...(identity.watch ?? [])]);
  const asked = ids.filter((id) => !claimed.has(id));
  const refused = asked.length === 0 ? [] : unwrap(await c.env.USER_HUB.getByName(identity.id).notContacts(asked));
  if (refused.length > 0) throw new HubError("forbidden", `not your contacts: ${refused.slice(0, 5).join(", ")}`);
  const users = await Promise.all(ids.map(async (id) => unwrap(await c.env.USER_HUB.getByName(id).contactStatus(id))));
  return c.json({ users });
});
