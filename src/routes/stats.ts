import { Hono } from "hono";
import { kindByPlural } from "../channel-kinds";
import { HubError, unwrap } from "../errors";
import { type AppEnv, producerOnly } from "../http";
import { parseId } from "../ids";

export const statsRoutes = new Hono<AppEnv>();

/** Totals across all channels, from the StatsHub (a few seconds behind, by design). */
statsRoutes.get("/stats", producerOnly, async (c) => c.json(unwrap(await c.env.STATS_HUB.getByName("global").read())));

/** One channel's own counters, exact and current. */
statsRoutes.get("/:kinds/:id/stats", producerOnly, async (c) => {
  const spec = kindByPlural(c.req.param("kinds"));
  if (!spec) throw new HubError("not_found", "no such route");
  const id = parseId(c.req.param("id"));
  return c.json(unwrap(await spec.hub(c.env, id).channelStats()));
});
