import { Hono } from "hono";
import { HubError, unwrap } from "../errors";
import { type AppEnv, producerOnly, producerOrUser, readJson } from "../http";
import { HISTORY_PAGE_DEFAULT, HISTORY_PAGE_MAX } from "../hubs/room-history";
import { parseId } from "../ids";
import { RoomProductEvent, RoomSettings } from "../schemas";
import { checkWebhookUrl } from "../webhooks/url";

export const roomRoutes = new Hono<AppEnv>();

/** Sets who may join: `public` admits anyone signed in; `private` only members and `rooms` claims. */
roomRoutes.put("/rooms/:id", producerOnly, async (c) => {
  const id = parseId(c.req.param("id"), "room id");
  const settings = await readJson(c, RoomSettings);
  checkWebhookUrl(settings.webhook_url, c.get("config"));
  return c.json(unwrap(await c.env.ROOM_HUB.getByName(id).configure(id, settings)));
});

roomRoutes.post("/rooms/:id/events", producerOnly, async (c) => {
  const id = parseId(c.req.param("id"), "room id");
  const event = await readJson(c, RoomProductEvent);
  return c.json(unwrap(await c.env.ROOM_HUB.getByName(id).publishEvent(id, event)));
});

/** The room's retained values, as a socket that joins now finds them in its snapshot. */
roomRoutes.get("/rooms/:id/retained", producerOnly, async (c) => {
  const id = parseId(c.req.param("id"), "room id");
  return c.json(unwrap(await c.env.ROOM_HUB.getByName(id).retainedValues(id)));
});

roomRoutes.get("/rooms/:id/presence", producerOnly, async (c) => {
  const id = parseId(c.req.param("id"), "room id");
  return c.json(unwrap(await c.env.ROOM_HUB.getByName(id).presence(id)));
});

/** History, newest first: producers, and users the room admits. `before` is a seq (exclusive). */
roomRoutes.get("/rooms/:id/messages", async (c) => {
  const id = parseId(c.req.param("id"), "room id");
  const reader = await producerOrUser(c);
  const before = c.req.query("before");
  const limit = c.req.query("limit") ?? String(HISTORY_PAGE_DEFAULT);
  if (before !== undefined && (!/^\d{1,15}$/.test(before) || Number(before) < 1)) {
    throw new HubError("validation_failed", "before must be a positive integer (a seq)");
  }
  if (!/^\d{1,3}$/.test(limit) || Number(limit) < 1 || Number(limit) > HISTORY_PAGE_MAX) {
    throw new HubError("validation_failed", `limit must be an integer from 1 to ${HISTORY_PAGE_MAX}`);
  }
  const hub = c.env.ROOM_HUB.getByName(id);
  return c.json(unwrap(await hub.history(id, reader, before === undefined ? undefined : Number(before), Number(limit))));
});
