import { Hono } from "hono";
import { bearerToken, isProducerKey } from "../auth/producer";
import { limitProducer } from "../auth/rate-limits";
import { HubError } from "../errors";
import { type AppEnv, producerOnly } from "../http";
import type { Hub } from "../hub/hub";
import { parseId } from "../ids";
import { METRICS_CONTENT_TYPE, renderMetrics } from "../stats/metrics";
import { readTotals } from "../stats/totals";

export const statsRoutes = new Hono<AppEnv>();

/** Totals across all channels, summed from every stats shard (a few seconds behind, by design). */
statsRoutes.get("/stats", producerOnly, async (c) => c.json(await readTotals(c.env, c.get("config").statsShards)));

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

export const metricsRoutes = new Hono<AppEnv>();

/** Prometheus scrape: METRICS_TOKEN or a producer key, compared in constant time. */
metricsRoutes.get("/metrics", async (c) => {
  const config = c.get("config");
  const token = bearerToken(c.req.header("Authorization"));
  if (!token) throw new HubError("unauthorized", "a metrics token or producer key is required (Authorization: Bearer <key>)");
  if (!(await isProducerKey(token, config.metricsKeys))) throw new HubError("unauthorized", "unknown metrics token");
  await limitProducer(c.env, token);
  const body = renderMetrics(await readTotals(c.env, config.statsShards));
  return c.body(body, 200, { "Content-Type": METRICS_CONTENT_TYPE, "Cache-Control": "no-store" });
});
