// One-time socket tickets (POST /v1/tickets) for clients that can send neither a
// subprotocol token nor a header. A ticket is signed, so a forged one is refused before
// any Durable Object is touched; single use is enforced by the user's hub (redeemTicket).
import { base64url } from "jose";
import { HubError } from "../errors";
import type { Identity } from "./jwt";

export const TICKET_TTL_MS = 30_000;

export interface Ticket {
  identity: Identity;
  jti: string;
  expiresAt: number;
}

const keys = new Map<string, Promise<CryptoKey>>();

function hmacKey(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey("raw", new TextEncoder().encode(`dovetail-ticket:${secret}`), { name: "HMAC", hash: "SHA-256" }, false, [
      "sign",
      "verify",
    ]);
    keys.set(secret, key);
  }
  return key;
}

export async function issueTicket(identity: Identity, secret: string, now = Date.now()): Promise<{ ticket: string; expires_at: string }> {
  const expiresAt = now + TICKET_TTL_MS;
  const body = base64url.encode(JSON.stringify({ i: identity, j: crypto.randomUUID(), e: expiresAt }));
  const mac = await crypto.subtle.sign("HMAC", await hmacKey(secret), new TextEncoder().encode(body));
  return { ticket: `${body}.${base64url.encode(new Uint8Array(mac))}`, expires_at: new Date(expiresAt).toISOString() };
}

/** Checks signature and expiry. The caller must still redeem the jti exactly once. */
export async function readTicket(ticket: string, secret: string, now = Date.now()): Promise<Ticket> {
  const [body, mac, extra] = ticket.split(".");
  if (!body || !mac || extra !== undefined || ticket.length > 4096) throw new HubError("unauthorized", "invalid ticket");
  const valid = await crypto.subtle.verify("HMAC", await hmacKey(secret), fromBase64Url(mac), new TextEncoder().encode(body));
  if (!valid) throw new HubError("unauthorized", "invalid ticket");
  const claims = JSON.parse(new TextDecoder().decode(fromBase64Url(body))) as { i: Identity; j: string; e: number };
  if (claims.e <= now) throw new HubError("unauthorized", "ticket expired");
  return { identity: claims.i, jti: claims.j, expiresAt: claims.e };
}

/** jose's decoder; anything that is not base64url is an invalid ticket. */
function fromBase64Url(text: string): Uint8Array<ArrayBuffer> {
  try {
    return new Uint8Array(base64url.decode(text));
  } catch {
    throw new HubError("unauthorized", "invalid ticket");
  }
}
