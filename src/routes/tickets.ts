import { Hono } from "hono";
import { issueTicket } from "../auth/tickets";
import { type AppEnv, userOnly } from "../http";

export const ticketRoutes = new Hono<AppEnv>();

/**
 * A single-use, 30-second socket ticket for clients that cannot send a token otherwise.
 * It leaves out the `watch` claim, which can be long: tickets stay small enough for a URL.
 */
ticketRoutes.post("/tickets", userOnly, async (c) => {
  const { watch: _watch, ...identity } = c.get("identity");
  return c.json(await issueTicket(identity, c.get("config").ticketSecret), 201);
});
