import { Hono } from "hono";
import * as v from "valibot";
import { splitChannel } from "../channel-kinds";
import { asHubError, HubError, type Outcome } from "../errors";
import { type AppEnv, producerOnly, readJson } from "../http";
import { parseId } from "../ids";
import { log } from "../log";
import type { PublishResult } from "../protocol";
import { NotificationInput, type ProductEvent, ProductEventType, PublishBatch, PublishItem } from "../schemas";
import { parseWith } from "../validation";
import { invalidKey, runGrouped } from "./bulk";

export const publishRoutes = new Hono<AppEnv>();

/**
 * Up to 100 events for any user or room channels, one result per item: a bad item fails
 * alone. Items for the same channel are delivered in the order given; different channels
 * are delivered concurrently.
 */
publishRoutes.post("/publish", producerOnly, async (c) => {
  const items = await readJson(c, PublishBatch);
  const channelOf = (index: number) => {
    const item = items[index];
    return v.is(v.object({ channel: v.string() }), item) ? item.channel : invalidKey(index);
  };
  const { results, failed } = await runGrouped<PublishResult>(items.length, channelOf, async (_channel, indexes) => {
    const answers: PublishResult[] = [];
    for (const index of indexes) answers.push(await publishOne(c.env, items[index], index));
    return answers;
  });
  return c.json({ results, delivered: results.length - failed, failed });
});

async function publishOne(env: Env, raw: unknown, index: number): Promise<PublishResult> {
  try {
    const outcome = await dispatch(env, raw);
    if (!outcome.ok) return { index, ok: false, error: outcome.error };
    return { index, ok: true, seq: outcome.value.seq, ...(outcome.value.duplicate ? { duplicate: true as const } : {}) };
  } catch (err) {
    if (!(err instanceof HubError)) log("publish.error", { index, error: String(err) });
    return { index, ok: false, error: asHubError(err).toPayload() };
  }
}

async function dispatch(env: Env, raw: unknown): Promise<Outcome<{ seq: number; duplicate?: true }>> {
  const item = parseWith(PublishItem, raw);
  const channel = splitChannel(item.channel);
  const kind = channel?.spec.kind;
  if (kind === "job" || kind === "batch") {
    throw new HubError("validation_failed", `${kind} channels take POST /v1/${channel?.spec.plural}/:id/events, not /v1/publish`);
  }
  if (!channel || (kind !== "user" && kind !== "room")) {
    throw new HubError("validation_failed", 'channel must be "user:<id>" or "room:<id>"');
  }
  const id = parseId(channel.rawId, "channel id");
  if (kind === "room") return env.ROOM_HUB.getByName(id).publishEvent(id, productEvent(item));
  const hub = env.USER_HUB.getByName(id);
  if (item.type === "notification") {
    // A notification dedupes by its own `data.id`; a second key would be ambiguous.
    if (item.event_id !== undefined) throw new HubError("validation_failed", "a notification item dedupes by data.id, not event_id");
    if (item.retain !== undefined || item.retain_key !== undefined) {
      throw new HubError("validation_failed", "a notification is kept in the inbox, not retained");
    }
    return hub.notify(id, parseWith(NotificationInput, item.data, "data"));
  }
  return hub.publishEvent(id, productEvent(item));
}

function productEvent(item: PublishItem): ProductEvent {
  return {
    type: parseWith(ProductEventType, item.type, "type"),
    data: item.data,
    event_id: item.event_id,
    ...(item.retain !== undefined ? { retain: item.retain } : {}),
    ...(item.retain_key !== undefined ? { retain_key: item.retain_key } : {}),
  };
}
