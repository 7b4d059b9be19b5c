// Socket tickets under attack: forged with a producer key, stretched to years, carrying an
// identity no token could, moved between hubs, and refused before they could be burned.
import { env } from "cloudflare:workers";
import { base64url, exportJWK, generateKeyPair, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { app } from "../../src/app";
import { readConfig } from "../../src/config";
import { call, connect, mintToken, UpgradeRefused, uniqueId } from "./helpers";

const encode = (text: string) => new TextEncoder().encode(text);

async function hmac(key: BufferSource, message: string): Promise<Uint8Array> {
  const imported = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", imported, encode(message)));
}

/** Signs `claims` the way a ticket is signed, with raw key bytes of the attacker's choice. */
async function signTicket(claims: unknown, key: BufferSource): Promise<string> {
  const body = base64url.encode(JSON.stringify(claims));
  return `${body}.${base64url.encode(await hmac(key, body))}`;
}

/** The hub's own ticket key (derived from JWT_SECRET): what a leaked key or an insider would hold. */
async function hubTicketKey(): Promise<Uint8Array> {
  return hmac(encode(env.JWT_SECRET as string), "dovetail socket tickets v1");
}

async function ticketFor(token: string): Promise<{ ticket: string; expires_at: string }> {
  const res = await call("/v1/tickets", { method: "POST", headers: { Authorization: `Bearer ${token}` } });
  expect(res.status, await res.clone().text()).toBe(201);
  return res.json();
}

function claims(sub: string, overrides: Record<string, unknown> = {}) {
  const now = Date.now();
  return { v: 1, sub, rooms: [], jti: crypto.randomUUID(), exp: now + 20_000, tok_exp: now + 600_000, aud: "dovetail-test", ...overrides };
}

describe("tickets", () => {
  it("refuses a ticket minted with a producer key, in the old format or the new one", async () => {
    // Before, the ticket key was derived from PRODUCER_KEYS: any producer could mint any user.
    const oldKey = encode(`dovetail-ticket:${env.PRODUCER_KEYS}`);
    const tenYears = Date.now() + 10 * 365 * 86_400_000;
    const oldFormat = await signTicket({ i: { id: "victim", rooms: ["*"] }, j: crypto.randomUUID(), e: tenYears }, oldKey);
    const newFormat = await signTicket(claims("victim"), oldKey);
    for (const ticket of [oldFormat, newFormat]) {
      const closed = await (await connect("/v1/ws/user", { query: { ticket } })).closed();
      expect(closed).toMatchObject({ code: 4001, reason: "invalid ticket" });
    }
  });

  it("refuses a ten-year ticket and one that outlives its token, even when signed with the hub's key", async () => {
    const key = await hubTicketKey();
    const tenYears = 10 * 365 * 86_400_000;
    const longLived = await signTicket(claims("alice", { exp: Date.now() + tenYears, tok_exp: Date.now() + tenYears }), key);
    const pastToken = await signTicket(claims("alice", { tok_exp: Date.now() + 5_000 }), key);
    for (const ticket of [longLived, pastToken]) {
      expect((await (await connect("/v1/ws/user", { query: { ticket } })).closed()).code).toBe(4001);
    }
    // The same key and shape with honest times is accepted: the refusals above are the times.
    const honest = await connect("/v1/ws/user", { query: { ticket: await signTicket(claims("alice"), key) } });
    expect((await honest.next("connected")).channel).toBe("user:alice");
    honest.hangUp();
  });

  it("re-validates the identity a ticket carries", async () => {
    // What got through before: an id no token could carry, in a ticket the old key signed.
    const oldKey = encode(`dovetail-ticket:${env.PRODUCER_KEYS}`);
    const traversal = await signTicket({ i: { id: "../../x y", rooms: [] }, j: crypto.randomUUID(), e: Date.now() + 20_000 }, oldKey);
    expect((await (await connect("/v1/ws/user", { query: { ticket: traversal } })).closed()).code).toBe(4001);
    const key = await hubTicketKey();
    for (const bad of [claims("../../x y"), claims("alice", { rooms: "everything" }), claims("alice", { name: "x".repeat(101) })]) {
      const closed = await (await connect("/v1/ws/user", { query: { ticket: await signTicket(bad, key) } })).closed();
      expect(closed.code, JSON.stringify(bad).slice(0, 60)).toBe(4001);
    }
  });

  it("never lets a ticket outlive the token it was issued for", async () => {
    const exp = Math.floor(Date.now() / 1000) + 8;
    const { expires_at } = await ticketFor(await mintToken(uniqueId("alice"), { expiresIn: exp }));
    expect(Date.parse(expires_at)).toBeLessThanOrEqual(exp * 1000);
    const long = await ticketFor(await mintToken(uniqueId("alice")));
    expect(Date.parse(long.expires_at) - Date.now()).toBeLessThanOrEqual(30_000);
  });

  it("keeps issuer and audience: a ticket from a hub with another audience is refused", async () => {
    const user = uniqueId("alice");
    const other = { ...env, JWT_AUDIENCE: "another-app" } as Env;
    const token = await mintToken(user, { audience: "another-app" });
    const res = await app.request("/v1/tickets", { method: "POST", headers: { Authorization: `Bearer ${token}` } }, other);
    expect(res.status).toBe(201);
    const { ticket } = await res.json<{ ticket: string }>();
    expect((await (await connect("/v1/ws/user", { query: { ticket } })).closed()).code).toBe(4001);
  });

  it("burns a ticket even when its upgrade is refused for its origin, its rate or its query", async () => {
    const user = uniqueId("alice");
    const token = await mintToken(user);
    const refusals: [string, Parameters<typeof connect>[1]][] = [
      ["origin", { origin: "https://evil.example" }],
      ["query", { query: { since: "not-a-number" } }],
    ];
    for (const [label, options] of refusals) {
      const { ticket } = await ticketFor(token);
      const refused = await connect("/v1/ws/user", { ...options, query: { ...options?.query, ticket } }).catch((e: unknown) => e);
      expect(refused, label).toBeInstanceOf(UpgradeRefused);
      const reuse = await connect("/v1/ws/user", { query: { ticket } });
      expect(await reuse.closed(), label).toMatchObject({ code: 4001, reason: "ticket already used" });
    }
    // Rate: an address over its upgrade budget is refused with 4008, and the ticket is gone.
    const ip = "198.51.100.23";
    for (let i = 0; i < 120; i++) await (await connect("/v1/ws/job/none", { ip })).closed();
    const { ticket } = await ticketFor(token);
    expect((await (await connect("/v1/ws/user", { ip, query: { ticket } })).closed()).code).toBe(4008);
    expect(await (await connect("/v1/ws/user", { query: { ticket } })).closed()).toMatchObject({ reason: "ticket already used" });
  });

  it("on a hub that trusts only a JWKS, issues no tickets and accepts none", async () => {
    const { privateKey, publicKey } = await generateKeyPair("ES256");
    const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256" };
    const jwksOnly = { ...env, JWT_SECRET: "", JWT_PUBLIC_JWKS: JSON.stringify({ keys: [jwk] }) } as Env;
    expect(readConfig(jwksOnly).ticketKey).toBeUndefined();
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: "ES256", kid: "k1" })
      .setSubject("alice")
      .setAudience("dovetail-test")
      .setIssuedAt()
      .setExpirationTime("5m")
      .sign(privateKey);
    const res = await app.request("/v1/tickets", { method: "POST", headers: { Authorization: `Bearer ${token}` } }, jwksOnly);
    expect(res.status).toBe(503);
    expect((await res.json<any>()).error.code).toBe("misconfigured");
    const oldKey = encode(`dovetail-ticket:${env.PRODUCER_KEYS}`);
    const forged = await signTicket(claims("victim"), oldKey);
    const upgrade = await app.request(`/v1/ws/user?ticket=${forged}`, { headers: { Upgrade: "websocket" } }, jwksOnly);
    expect(upgrade.status).toBe(101);
    const ws = upgrade.webSocket as WebSocket;
    const closed = new Promise<CloseEvent>((resolve) => ws.addEventListener("close", resolve));
    ws.accept();
    expect((await closed).code).toBe(4001);
  });
});
