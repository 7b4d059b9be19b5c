import { Hono } from "hono";
import { HubError, unwrap } from "../errors";
import { type AppEnv, producerOnly, readJson, userOnly } from "../http";
import { parseId } from "../ids";
import { ContactList, MarkRead, NotificationInput, ProductEvent } from "../schemas";

export const userRoutes = new Hono<AppEnv>();

/** Stores a notification in the user's inbox and delivers it to every open socket. */
userRoutes.post("/users/:id/notifications", producerOnly, async (c) => {
  const id = parseId(c.req.param("id"), "user id");
  const input = await readJson(c, NotificationInput);
  const delivered = unwrap(await c.env.USER_HUB.getByName(id).notify(id, input));
  return c.json(delivered, delivered.duplicate ? 200 : 201);
});

/** Any product event type (`like:updated`, `campaign:launched`) to every socket of the user. */
userRoutes.post("/users/:id/events", producerOnly, async (c) => {
  const id = parseId(c.req.param("id"), "user id");
  const event = await readJson(c, ProductEvent);
  return c.json(unwrap(await c.env.USER_HUB.getByName(id).publishEvent(id, event)));
});

userRoutes.get("/users/:id/presence", producerOnly, async (c) => {
  const id = parseId(c.req.param("id"), "user id");
  return c.json(unwrap(await c.env.USER_HUB.getByName(id).presence(id)));
});

/** The signed-in user's own inbox, newest first: `?unread=true`, `?limit=1..200` (50). */
userRoutes.get("/me/notifications", userOnly, async (c) => {
  const unread = c.req.query("unread");
  const rawLimit = c.req.query("limit") ?? "50";
  if (unread !== undefined && unread !== "true" && unread !== "false") {
    throw new HubError("validation_failed", "unread must be true or false");
  }
  if (!/^\d{1,3}$/.test(rawLimit) || Number(rawLimit) < 1 || Number(rawLimit) > 200) {
    throw new HubError("validation_failed", "limit must be an integer from 1 to 200");
  }
  const hub = c.env.USER_HUB.getByName(c.get("identity").id);
  return c.json(unwrap(await hub.notifications({ unreadOnly: unread === "true", limit: Number(rawLimit) })));
});

/** Marks a user's notifications read, from a backend or a second app: `{ids}` or `{all: true}`. */
userRoutes.post("/users/:id/notifications/read", producerOnly, async (c) => {
  const id = parseId(c.req.param("id"), "user id");
  const body = await readJson(c, MarkRead);
  return c.json(unwrap(await c.env.USER_HUB.getByName(id).readNotifications("all" in body ? "all" : { ids: body.ids })));
});

/** Whose online status the user sees: replaces the list; each gets user:online / user:offline for them. */
userRoutes.put("/users/:id/contacts", producerOnly, async (c) => {
  const id = parseId(c.req.param("id"), "user id");
  const { contacts } = await readJson(c, ContactList);
  const max = c.get("config").contactsMax;
  if (contacts.length > max) throw new HubError("validation_failed", `at most ${max} contacts (CONTACTS_MAX)`);
  if (contacts.includes(id)) throw new HubError("validation_failed", "a user is not their own contact");
  return c.json(unwrap(await c.env.USER_HUB.getByName(id).setContacts(id, contacts)));
});
