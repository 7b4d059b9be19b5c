// Who is opening a socket: the token transports in the design's order (subprotocol,
// Authorization header, ticket), with the ticket burned first of all.
import type { HubConfig } from "../config";
import { HubError } from "../errors";
import { BEARER_PREFIX } from "../protocol";
import { type Identity, verifyUserToken } from "./jwt";
import { bearerToken } from "./producer";
import { readTicket } from "./tickets";

/** A ticket's redemption: the identity it carries, or why it does not count. */
export type TicketOutcome = Identity | HubError | undefined;

/**
 * A `?ticket=` has been seen by every log on its way here, so it is burned before the
 * upgrade can be refused for any other reason (origin, rate, bad query): a refused
 * request never leaves a usable ticket behind. Undefined when the URL has none.
 */
export async function redeemTicketIn(url: URL, env: Env, config: HubConfig): Promise<TicketOutcome> {
  const ticket = url.searchParams.get("ticket");
  if (!ticket) return undefined;
  try {
    const { identity, jti, expiresAt } = await readTicket(ticket, config);
    const redeemed = await env.USER_HUB.getByName(identity.id).redeemTicket(jti, expiresAt);
    return redeemed.ok ? identity : HubError.from(redeemed.error);
  } catch (err) {
    if (err instanceof HubError) return err;
    throw err;
  }
}

/** The socket's identity: a token if one is offered, else the redeemed ticket. Throws `unauthorized`. */
export async function socketIdentity(request: Request, offered: string[], ticket: TicketOutcome, config: HubConfig): Promise<Identity> {
  const token =
    offered.find((p) => p.startsWith(BEARER_PREFIX))?.slice(BEARER_PREFIX.length) ?? bearerToken(request.headers.get("Authorization"));
  if (token) return verifyUserToken(token, config.jwt);
  if (ticket instanceof HubError) throw ticket;
  if (ticket) return ticket;
  throw new HubError("unauthorized", "no token: offer the bearer.<jwt> subprotocol, send Authorization, or use ?ticket=");
}
