import { Hono } from "hono";
import { issueTicket } from "../auth/tickets";
import { type AppEnv, userOnly } from "../http";

export const ticketRoutes = new Hono<AppEnv>();

/** A single-use, 30-second socket ticket for clients that cannot send a token otherwise. */
ticketRoutes.post("/tickets", userOnly, async (c) => {
  return c.json(await issueTicket(c.get("identity"), c.get("config").ticketSecret), 201);
});
