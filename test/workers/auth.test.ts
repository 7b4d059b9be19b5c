import { listDurableObjectIds } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, connect, createJob, mintToken, produce, ROTATED_PRODUCER_KEY, UpgradeRefused, uniqueId } from "./helpers";

function b64url(value: unknown): string {
  return btoa(JSON.stringify(value)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

async function closeCodeFor(path: string, token?: string, via?: "subprotocol" | "header") {
  const socket = await connect(path, { token, via });
  return socket.closed();
}

describe("client tokens on sockets", () => {
  it("accepts a valid token by subprotocol or by Authorization header, and echoes only dovetail.v1", async () => {
    const owner = uniqueId("alice");
    const job = await createJob(owner);
    const bySubprotocol = await connect(`/v1/ws/job/${job}`, { token: await mintToken(owner) });
    expect(bySubprotocol.protocol).toBe("dovetail.v1");
    expect((await bySubprotocol.next()).type).toBe("connected");
    const byHeader = await connect(`/v1/ws/job/${job}`, { token: await mintToken(owner), via: "header" });
    expect((await byHeader.next()).type).toBe("connected");
    bySubprotocol.hangUp();
    byHeader.hangUp();
  });

  it("closes with 4001 for a missing, expired, badly signed, alg:none or wrong-audience token", async () => {
    const owner = uniqueId("alice");
    const job = await createJob(owner);
    const path = `/v1/ws/job/${job}`;
    const now = Math.floor(Date.now() / 1000);
    const cases: [string, string | undefined][] = [
      ["missing", undefined],
      ["expired", await mintToken(owner, { expiresIn: now - 60 })],
      ["badly signed", await mintToken(owner, { secret: "another_secret_0123456789abcdef0123456789" })],
      ["alg none", `${b64url({ alg: "none", typ: "JWT" })}.${b64url({ sub: owner, exp: now + 600, aud: "dovetail-test" })}.`],
      ["wrong audience", await mintToken(owner, { audience: "someone-else" })],
      ["not yet valid", await mintToken(owner, { notBefore: now + 3600 })],
      ["garbage", "not.a.jwt"],
    ];
    for (const [label, token] of cases) {
      const closed = await closeCodeFor(path, token);
      expect(closed.code, label).toBe(4001);
      expect(closed.reason.length, label).toBeGreaterThan(0);
    }
    expect((await closeCodeFor(path, await mintToken(owner, { expiresIn: now - 60 }))).reason).toBe("token expired");
  });

  it("answers 401 over HTTP for the same bad tokens", async () => {
    const owner = uniqueId("alice");
    const job = await createJob(owner);
    const expired = await mintToken(owner, { expiresIn: Math.floor(Date.now() / 1000) - 60 });
    for (const auth of [undefined, `Bearer ${expired}`, "Bearer nope"]) {
      const res = await call(`/v1/jobs/${job}`, { headers: auth ? { Authorization: auth } : {} });
      expect(res.status).toBe(401);
      expect(res.headers.get("WWW-Authenticate")).toContain("invalid_token");
      expect((await res.json<any>()).error.code).toBe("unauthorized");
    }
  });

  it("closes with 4004 when user B opens user A's job (no existence oracle)", async () => {
    const job = await createJob(uniqueId("alice"));
    expect((await closeCodeFor(`/v1/ws/job/${job}`, await mintToken("bob"))).code).toBe(4004);
  });
});

describe("origins", () => {
  it("refuses an upgrade from an origin not on the allow-list, before any object is touched", async () => {
    const owner = uniqueId("alice");
    const job = await createJob(owner);
    const token = await mintToken(owner);
    for (const origin of ["https://evil.example", "https://example.org", "http://app.example.com", "null"]) {
      const attempt = connect(`/v1/ws/job/${job}`, { token, origin });
      await expect(attempt, origin).rejects.toBeInstanceOf(UpgradeRefused);
      await attempt.catch((err: UpgradeRefused) => expect(err.status).toBe(403));
    }
  });

  it("admits exact and wildcard origins, and clients that send none", async () => {
    const owner = uniqueId("alice");
    const job = await createJob(owner);
    const token = await mintToken(owner);
    for (const origin of ["https://app.example.com", "https://eu.example.org", "https://a.b.example.org", undefined]) {
      const socket = await connect(`/v1/ws/job/${job}`, { token, origin });
      expect((await socket.next()).type, origin).toBe("connected");
      socket.hangUp();
    }
  });
});

describe("producer keys", () => {
  it("refuses a client JWT, a wrong key and no key on producer routes", async () => {
    const jwt = await mintToken("alice");
    for (const key of [jwt, "wrong_key_0123456789abcdefghij", ""]) {
      const res = await produce("/v1/jobs", { owner: "alice" }, { key });
      expect(res.status).toBe(401);
    }
  });

  it("accepts every key in PRODUCER_KEYS, so a key can be rotated", async () => {
    const res = await produce("/v1/jobs", { owner: "alice" }, { key: ROTATED_PRODUCER_KEY });
    expect(res.status).toBe(201);
  });
});

describe("one-time tickets", () => {
  it("connects once with a ticket and refuses its reuse with 4001", async () => {
    const owner = uniqueId("alice");
    const job = await createJob(owner);
    const res = await call("/v1/tickets", { method: "POST", headers: { Authorization: `Bearer ${await mintToken(owner)}` } });
    expect(res.status).toBe(201);
    const { ticket, expires_at } = await res.json<any>();
    expect(Date.parse(expires_at) - Date.now()).toBeLessThanOrEqual(30_000);

    const first = await connect(`/v1/ws/job/${job}`, { query: { ticket } });
    expect((await first.next()).data.user.id).toBe(owner);
    const second = await connect(`/v1/ws/job/${job}`, { query: { ticket } });
    expect(await second.closed()).toMatchObject({ code: 4001, reason: "ticket already used" });
    first.hangUp();
  });

  it("refuses a forged ticket without creating a user object", async () => {
    const before = (await listDurableObjectIds(env.USER_HUB)).length;
    const forged = `${b64url({ i: { id: "mallory", rooms: [] }, j: "x", e: Date.now() + 10_000 })}.${b64url("sig")}`;
    const socket = await connect(`/v1/ws/user`, { query: { ticket: forged } });
    expect((await socket.closed()).code).toBe(4001);
    expect((await listDurableObjectIds(env.USER_HUB)).length).toBe(before);
  });

  it("needs a user token to issue a ticket", async () => {
    const res = await produce("/v1/tickets", undefined);
    expect(res.status).toBe(401);
  });
});
