import { Hono } from "hono";
import { bearerToken, isProducerKey } from "../auth/producer";
import { limitProducer } from "../auth/rate-limits";
import { kindByPlural } from "../channel-kinds";
import { HubError, unwrap } from "../errors";
import { type AppEnv, producerOnly } from "../http";
import { parseId } from "../ids";
import { METRICS_CONTENT_TYPE, renderMetrics } from "../stats/metrics";
import { readTotals } from "../stats/totals";

export const statsRoutes = new Hono<AppEnv>();

/** Totals across all channels, summed from every stats shard (a few seconds behind, by design). */
statsRoutes.get("/stats", producerOnly, async (c) => c.json(await readTotals(c.env, c.get("config").statsShards)));

/** One channel's own counters, exact and current. */
statsRoutes.get("/:kinds/:id/stats", producerOnly, async (c) => {
  const spec = kindByPlural(c.req.param("kinds"));
  if (!spec) throw new HubError("not_found", "no such route");
  const id = parseId(c.req.param("id"));
  return c.json(unwrap(await spec.hub(c.env, id).channelStats()));
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
