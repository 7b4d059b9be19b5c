import { Hono } from "hono";
import { unwrap } from "../errors";
import { type AppEnv, producerOnly, readJson } from "../http";
import { parseId } from "../ids";
import { RoomProductEvent, RoomSettings } from "../schemas";

export const roomRoutes = new Hono<AppEnv>();

/** Sets who may join: `public` admits anyone signed in; `private` only members and `rooms` claims. */
roomRoutes.put("/rooms/:id", producerOnly, async (c) => {
  const id = parseId(c.req.param("id"), "room id");
  const settings = await readJson(c, RoomSettings);
  return c.json(unwrap(await c.env.ROOM_HUB.getByName(id).configure(id, settings)));
});

roomRoutes.post("/rooms/:id/events", producerOnly, async (c) => {
  const id = parseId(c.req.param("id"), "room id");
  const event = await readJson(c, RoomProductEvent);
  return c.json(unwrap(await c.env.ROOM_HUB.getByName(id).publishEvent(id, event)));
});

roomRoutes.get("/rooms/:id/presence", producerOnly, async (c) => {
  const id = parseId(c.req.param("id"), "room id");
  return c.json(unwrap(await c.env.ROOM_HUB.getByName(id).presence(id)));
});
