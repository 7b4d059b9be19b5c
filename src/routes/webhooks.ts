import { Hono } from "hono";
import * as v from "valibot";
import { HubError } from "../errors";
import { type AppEnv, producerOnly } from "../http";
import type { Hub } from "../hub/hub";
import { isValidId } from "../ids";

export const webhookRoutes = new Hono<AppEnv>();

const LIST_MAX = 100;
const ListQuery = v.object({
  channel: v.optional(v.pipe(v.string(), v.maxLength(140))),
  after: v.optional(v.pipe(v.string(), v.maxLength(64))),
  limit: v.optional(v.pipe(v.string(), v.toNumber(), v.integer(), v.minValue(1), v.maxValue(LIST_MAX)), "50"),
});

/** Webhooks given up on (every channel, oldest first), with the body a replay would send. */
webhookRoutes.get("/webhooks/failed", producerOnly, async (c) => {
  const query = v.safeParse(ListQuery, c.req.query());
  if (!query.success) throw new HubError("validation_failed", `limit is 1-${LIST_MAX}; channel and after are strings`);
  const { channel, after, limit } = query.output;
  return c.json(await c.env.DEAD_LETTERS.getByName("global").list({ channel, after, limit }));
});

/** Sends a dead letter again: back in its channel's outbox with a fresh retry window, and out of the list. */
webhookRoutes.post("/webhooks/failed/:id/replay", producerOnly, async (c) => {
  const id = c.req.param("id");
  const letters = c.env.DEAD_LETTERS.getByName("global");
  const entry = /^msg_[0-9a-f]{32}$/.test(id) ? await letters.find(id) : null;
  if (!entry) throw new HubError("not_found", "no such dead letter");
  const hub = hubFor(c.env, entry.channel);
  await hub.requeueWebhook({ id: entry.id, type: entry.type, body: entry.body });
  await letters.remove(entry.id);
  return c.json({ id: entry.id, channel: entry.channel, requeued: true }, 202);
});

function hubFor(env: Env, channel: string): DurableObjectStub<Hub> {
  const colon = channel.indexOf(":");
  const kind = channel.slice(0, colon);
  const id = channel.slice(colon + 1);
  const namespaces = new Map<string, unknown>([
    ["job", env.JOB_HUB],
    ["room", env.ROOM_HUB],
    ["user", env.USER_HUB],
    ["batch", env.BATCH_HUB],
  ]);
  const namespace = namespaces.get(kind) as DurableObjectNamespace<Hub> | undefined;
  if (!namespace || !isValidId(id)) throw new HubError("internal", `dead letter names an unknown channel ${channel}`);
  return namespace.getByName(id);
}
