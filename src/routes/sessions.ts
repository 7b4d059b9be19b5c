import { Hono } from "hono";
import { type AppEnv, producerOnly, readJson } from "../http";
import { parseId } from "../ids";
import { RevocationBody } from "../schemas";

export const sessionRoutes = new Hono<AppEnv>();

/** Closes the user's sockets on every channel with 4003 `disconnected`: a kick, not a ban. */
sessionRoutes.post("/users/:id/disconnect", producerOnly, async (c) => {
  const id = parseId(c.req.param("id"), "user id");
  return c.json(await c.env.USER_HUB.getByName(id).disconnect(id));
});

/**
 * Denies a token (`sub` + `jti`, 4001) or a whole user (`sub`, 4003) at upgrade for `ttl_s`,
 * and closes the matching open sockets now.
 */
sessionRoutes.post("/revocations", producerOnly, async (c) => {
  const revocation = await readJson(c, RevocationBody);
  return c.json(await c.env.USER_HUB.getByName(revocation.sub).revoke(revocation));
});
