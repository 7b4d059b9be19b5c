import { Hono } from "hono";
import * as v from "valibot";
import { splitChannel } from "../channel-kinds";
import { HubError, unwrap } from "../errors";
import { type AppEnv, producerOnly } from "../http";
import { isValidId } from "../ids";
import { parseWith } from "../validation";

export const webhookRoutes = new Hono<AppEnv>();

const LIST_MAX = 100;
const ListQuery = v.object({
  channel: v.optional(v.pipe(v.string(), v.maxLength(140))),
  after: v.optional(v.pipe(v.string(), v.maxLength(64))),
  limit: v.optional(v.pipe(v.string(), v.toNumber(), v.integer(), v.minValue(1), v.maxValue(LIST_MAX)), "50"),
});

/** Webhooks given up on (every channel, oldest first), with the body a replay would send. */
webhookRoutes.get("/webhooks/failed", producerOnly, async (c) => {
  const { channel, after, limit } = parseWith(ListQuery, c.req.query());
  return c.json(unwrap(await c.env.DEAD_LETTERS.getByName("global").list({ channel, after, limit })));
});

/** Sends a dead letter again: back in its channel's outbox with a fresh retry window, and out of the list. */
webhookRoutes.post("/webhooks/failed/:id/replay", producerOnly, async (c) => {
  const id = c.req.param("id");
  if (!/^msg_[0-9a-f]{32}$/.test(id)) throw new HubError("not_found", "no such dead letter");
  const letters = c.env.DEAD_LETTERS.getByName("global");
  const entry = unwrap(await letters.find(id));
  const channel = splitChannel(entry.channel);
  if (!channel || !isValidId(channel.rawId)) throw new HubError("internal", "the dead letter names an unknown channel");
  unwrap(await channel.spec.hub(c.env, channel.rawId).requeueWebhook({ id: entry.id, type: entry.type, body: entry.body }));
  unwrap(await letters.remove(entry.id));
  return c.json({ id: entry.id, channel: entry.channel, requeued: true }, 202);
});
