// One-time socket tickets (POST /v1/tickets) for clients that can send neither a
// subprotocol token nor a header. A ticket is an identity, so it is signed with a key
// only an identity minter holds (TICKET_SECRET, or one derived from JWT_SECRET), never
// with a producer key. It lives at most 30 s and never past its token's own exp, and the
// user's hub burns its id on first use (redeemTicket), whatever happens to that upgrade.
import { base64url } from "jose";
import * as v from "valibot";
import type { HubConfig, TicketKeySource } from "../config";
import { HubError } from "../errors";
import { type Identity, identityFrom } from "./jwt";

export const TICKET_TTL_MS = 30_000;
/** Clock skew tolerated when a ticket is redeemed on another machine than the one that issued it. */
const SKEW_MS = 5_000;
/** The label the ticket key is derived under: a JWT_SECRET signature is never a valid ticket MAC. */
const DERIVATION_LABEL = "dovetail socket tickets v1";

export interface Ticket {
  identity: Identity;
  jti: string;
  expiresAt: number;
}

const Claims = v.strictObject({
  v: v.literal(1),
  sub: v.string(),
  name: v.optional(v.string()),
  rooms: v.array(v.string()),
  jti: v.pipe(v.string(), v.uuid()),
  exp: v.pipe(v.number(), v.safeInteger()),
  tok_exp: v.pipe(v.number(), v.safeInteger()),
  tok_jti: v.optional(v.pipe(v.string(), v.maxLength(256))),
  iss: v.optional(v.string()),
  aud: v.optional(v.string()),
});
type Claims = v.InferOutput<typeof Claims>;

const keys = new Map<string, Promise<CryptoKey>>();

function hmacKey(source: TicketKeySource): Promise<CryptoKey> {
  const cacheKey = `${source.derived ? "derived" : "own"}:${source.secret}`;
  let key = keys.get(cacheKey);
  if (!key) {
    key = (async () => {
      const encode = (text: string) => new TextEncoder().encode(text);
      const hmac = (raw: BufferSource) => crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
      if (!source.derived) return hmac(encode(source.secret));
      const material = await crypto.subtle.sign("HMAC", await hmac(encode(source.secret)), encode(DERIVATION_LABEL));
      return hmac(material);
    })();
    keys.set(cacheKey, key);
  }
  return key;
}

function keyOf(config: HubConfig, refusal: "misconfigured" | "unauthorized"): TicketKeySource {
  if (!config.ticketKey) throw new HubError(refusal, "socket tickets need TICKET_SECRET (or JWT_SECRET) on this hub");
  return config.ticketKey;
}

/** A ticket for an identity verified from a JWT (which carries `expiresAt`). */
export async function issueTicket(
  identity: Identity,
  config: HubConfig,
  now = Date.now(),
): Promise<{ ticket: string; expires_at: string }> {
  const tokenExpiresAt = identity.expiresAt ?? now;
  const expiresAt = Math.min(now + TICKET_TTL_MS, tokenExpiresAt);
  if (expiresAt <= now) throw new HubError("unauthorized", "token expired");
  const claims: Claims = {
    v: 1,
    sub: identity.id,
    ...(identity.name !== undefined ? { name: identity.name } : {}),
    rooms: identity.rooms,
    jti: crypto.randomUUID(),
    exp: expiresAt,
    tok_exp: tokenExpiresAt,
    ...(identity.jti !== undefined ? { tok_jti: identity.jti } : {}),
    ...(config.jwt.issuer !== undefined ? { iss: config.jwt.issuer } : {}),
    ...(config.jwt.audience !== undefined ? { aud: config.jwt.audience } : {}),
  };
  const body = base64url.encode(JSON.stringify(claims));
  const mac = await crypto.subtle.sign("HMAC", await hmacKey(keyOf(config, "misconfigured")), new TextEncoder().encode(body));
  return { ticket: `${body}.${base64url.encode(new Uint8Array(mac))}`, expires_at: new Date(expiresAt).toISOString() };
}

/**
 * Checks the signature, then everything a JWT would be checked for: the identity claims,
 * expiry (capped at issue + 30 s and at the token's exp), issuer and audience. The caller
 * must still redeem the jti exactly once.
 */
export async function readTicket(ticket: string, config: HubConfig, now = Date.now()): Promise<Ticket> {
  const invalid = () => new HubError("unauthorized", "invalid ticket");
  const [body, mac, extra] = ticket.split(".");
  if (!body || !mac || extra !== undefined || ticket.length > 4096) throw invalid();
  const valid = await crypto.subtle.verify(
    "HMAC",
    await hmacKey(keyOf(config, "unauthorized")),
    decode(mac),
    new TextEncoder().encode(body),
  );
  if (!valid) throw invalid();
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(decode(body)));
  } catch {
    throw invalid();
  }
  const result = v.safeParse(Claims, parsed);
  if (!result.success) throw invalid();
  const claims = result.output;
  const identity = identityFrom(claims);
  if (claims.exp > claims.tok_exp || claims.exp > now + TICKET_TTL_MS + SKEW_MS) throw invalid();
  if (claims.iss !== config.jwt.issuer || claims.aud !== config.jwt.audience) throw invalid();
  if (claims.exp <= now) throw new HubError("unauthorized", "ticket expired");
  return {
    identity: { ...identity, expiresAt: claims.tok_exp, ...(claims.tok_jti !== undefined ? { jti: claims.tok_jti } : {}) },
    jti: claims.jti,
    expiresAt: claims.exp,
  };
}

function decode(text: string): Uint8Array<ArrayBuffer> {
  try {
    return new Uint8Array(base64url.decode(text));
  } catch {
    throw new HubError("unauthorized", "invalid ticket");
  }
}
