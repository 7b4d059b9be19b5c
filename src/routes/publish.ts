import { Hono } from "hono";
import * as v from "valibot";
import { HubError, type Outcome } from "../errors";
import { type AppEnv, producerOnly, readJson } from "../http";
import { parseId } from "../ids";
import { log } from "../log";
import type { PublishResult } from "../protocol";
import { NotificationInput, type ProductEvent, ProductEventType, PublishBatch, PublishItem } from "../schemas";

export const publishRoutes = new Hono<AppEnv>();

/**
 * Up to 100 events for any user or room channels, one result per item: a bad item fails
 * alone. Items for the same channel are delivered in the order given; different channels
 * are delivered concurrently.
 */
publishRoutes.post("/publish", producerOnly, async (c) => {
  const items = await readJson(c, PublishBatch);
  const byChannel = new Map<string, number[]>();
  items.forEach((item, index) => {
    const channel = v.is(v.object({ channel: v.string() }), item) ? item.channel : "";
    byChannel.set(channel, [...(byChannel.get(channel) ?? []), index]);
  });
  const results: PublishResult[] = new Array(items.length);
  await Promise.all(
    [...byChannel.values()].map(async (indexes) => {
      for (const index of indexes) results[index] = await publishOne(c.env, items[index], index);
    }),
  );
  const failed = results.filter((r) => !r.ok).length;
  return c.json({ results, delivered: results.length - failed, failed });
});

async function publishOne(env: Env, raw: unknown, index: number): Promise<PublishResult> {
  try {
    const outcome = await dispatch(env, raw);
    if (!outcome.ok) return { index, ok: false, error: outcome.error };
    return { index, ok: true, seq: outcome.value.seq, ...(outcome.value.duplicate ? { duplicate: true as const } : {}) };
  } catch (err) {
    if (err instanceof HubError) return { index, ok: false, error: { code: err.code, message: err.message } };
    log("publish.error", { index, error: String(err) });
    return { index, ok: false, error: { code: "internal", message: "internal error" } };
  }
}

async function dispatch(env: Env, raw: unknown): Promise<Outcome<{ seq: number; duplicate?: true }>> {
  const item = check(PublishItem, raw);
  const colon = item.channel.indexOf(":");
  const kind = colon < 0 ? item.channel : item.channel.slice(0, colon);
  const id = parseId(colon < 0 ? undefined : item.channel.slice(colon + 1), "channel id");
  if (kind === "user") {
    const hub = env.USER_HUB.getByName(id);
    if (item.type === "notification") {
      // A notification dedupes by its own `data.id`; a second key would be ambiguous.
      if (item.event_id !== undefined) throw new HubError("validation_failed", "a notification item dedupes by data.id, not event_id");
      if (item.retain !== undefined || item.retain_key !== undefined) {
        throw new HubError("validation_failed", "a notification is kept in the inbox, not retained");
      }
      return hub.notify(id, check(NotificationInput, item.data, "data"));
    }
    return hub.publishEvent(id, productEvent(item));
  }
  if (kind === "room") return env.ROOM_HUB.getByName(id).publishEvent(id, productEvent(item));
  if (kind === "job" || kind === "batch") {
    throw new HubError(
      "validation_failed",
      `${kind} channels take POST /v1/${kind === "job" ? "jobs" : "batches"}/:id/events, not /v1/publish`,
    );
  }
  throw new HubError("validation_failed", 'channel must be "user:<id>" or "room:<id>"');
}

function productEvent(item: PublishItem): ProductEvent {
  return {
    type: check(ProductEventType, item.type, "type"),
    data: item.data,
    event_id: item.event_id,
    ...(item.retain !== undefined ? { retain: item.retain } : {}),
    ...(item.retain_key !== undefined ? { retain_key: item.retain_key } : {}),
  };
}

/** Validates one part of an item; `at` names that part in the message ("type: ..."). */
function check<S extends v.GenericSchema>(schema: S, value: unknown, at?: string): v.InferOutput<S> {
  const result = v.safeParse(schema, value);
  if (result.success) return result.output;
  const issue = result.issues[0];
  const inner = issue ? v.getDotPath(issue) : null;
  const path = [at, inner].filter(Boolean).join(".") || null;
  throw new HubError("validation_failed", path ? `${path}: ${issue?.message}` : (issue?.message ?? "invalid item"));
}
