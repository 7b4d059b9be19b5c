import { Hono } from "hono";
import { HubError } from "../errors";
import { type AppEnv, producerOnly } from "../http";
import type { Hub } from "../hub/hub";
import { parseId } from "../ids";

export const statsRoutes = new Hono<AppEnv>();

/** Totals across all channels, from the StatsHub (a few seconds behind, by design). */
statsRoutes.get("/stats", producerOnly, async (c) => c.json(await c.env.STATS_HUB.getByName("global").read()));

const KINDS: Record<string, (env: Env) => unknown> = {
  users: (env) => env.USER_HUB,
  jobs: (env) => env.JOB_HUB,
  rooms: (env) => env.ROOM_HUB,
  batches: (env) => env.BATCH_HUB,
};

/** One channel's own counters, exact and current. */
statsRoutes.get("/:kinds/:id/stats", producerOnly, async (c) => {
  const namespace = KINDS[c.req.param("kinds")]?.(c.env) as DurableObjectNamespace<Hub> | undefined;
  if (!namespace) throw new HubError("not_found", "no such route");
  const id = parseId(c.req.param("id"));
  const stats = await namespace.getByName(id).channelStats();
  if (!stats) throw new HubError("not_found", "no such channel");
  return c.json(stats);
});
