import { Hono } from "hono";
import { issueTicket } from "../auth/tickets";
import { type AppEnv, userOnly } from "../http";

export const ticketRoutes = new Hono<AppEnv>();

/**
 * A single-use socket ticket (30 s at most, never past the token's exp) for clients that
 * cannot send a token otherwise. It leaves out the `watch` claim, which can be long:
 * tickets stay small enough for a URL.
 */
ticketRoutes.post("/tickets", userOnly, async (c) => {
  return c.json(await issueTicket(c.get("identity"), c.get("config")), 201);
});
