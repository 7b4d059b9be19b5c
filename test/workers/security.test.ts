// The security suite: token attacks, cross-user access, origins, hostile ids
// and bodies, and a check that no token ever reaches a log line.
import { env } from "cloudflare:workers";
import { exportJWK, exportSPKI, generateKeyPair, SignJWT } from "jose";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { app } from "../../src/app";
import { call, connect, createJob, jobWithSockets, mintToken, PRODUCER_KEY, produce, UpgradeRefused, uniqueId } from "./helpers";

async function produceOkAs(path: string, body: unknown, method = "POST") {
  const res = await produce(path, body, { method });
  expect(res.status, `${method} ${path}: ${await res.clone().text()}`).toBeLessThan(300);
  return res;
}

const b64url = (value: unknown) => btoa(JSON.stringify(value)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");

describe("asymmetric keys (JWT_PUBLIC_JWKS)", () => {
  let rsEnv: Env;
  let privateKey: CryptoKey;
  let publicPem: string;
  let publicJwkText: string;

  beforeAll(async () => {
    const pair = await generateKeyPair("RS256", { extractable: true });
    privateKey = pair.privateKey;
    publicPem = await exportSPKI(pair.publicKey);
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "RS256", use: "sig" };
    publicJwkText = JSON.stringify(jwk);
    // No JWT_SECRET: this hub trusts only the RSA public key.
    rsEnv = { ...env, JWT_SECRET: "", JWT_PUBLIC_JWKS: JSON.stringify({ keys: [jwk] }) } as Env;
  });

  const rsToken = (sub: string, kid = "k1") =>
    new SignJWT({})
      .setProtectedHeader({ alg: "RS256", kid })
      .setSubject(sub)
      .setAudience("dovetail-test")
      .setExpirationTime("5m")
      .sign(privateKey);
  const hsToken = (sub: string, secret: string) =>
    new SignJWT({})
      .setProtectedHeader({ alg: "HS256", kid: "k1" })
      .setSubject(sub)
      .setAudience("dovetail-test")
      .setExpirationTime("5m")
      .sign(new TextEncoder().encode(secret));
  const getJob = (id: string, token: string) => app.request(`/v1/jobs/${id}`, { headers: { Authorization: `Bearer ${token}` } }, rsEnv);

  it("accepts an RS256 token signed by the configured key", async () => {
    const owner = uniqueId("alice");
    const job = await createJob(owner);
    expect((await getJob(job, await rsToken(owner))).status).toBe(200);
  });

  it("refuses HS256 tokens signed with the public key's text (algorithm confusion)", async () => {
    const owner = uniqueId("alice");
    const job = await createJob(owner);
    for (const secret of [publicPem, publicJwkText]) {
      const res = await getJob(job, await hsToken(owner, secret));
      expect(res.status).toBe(401);
    }
  });

  it("refuses an unknown kid", async () => {
    const owner = uniqueId("alice");
    const job = await createJob(owner);
    expect((await getJob(job, await rsToken(owner, "k2"))).status).toBe(401);
  });

  it("refuses HS256 signed with the public key even when a shared secret is also configured", async () => {
    const both = { ...rsEnv, JWT_SECRET: env.JWT_SECRET } as Env;
    const owner = uniqueId("alice");
    const job = await createJob(owner);
    const forged = await hsToken(owner, publicPem);
    expect((await app.request(`/v1/jobs/${job}`, { headers: { Authorization: `Bearer ${forged}` } }, both)).status).toBe(401);
  });
});

describe("token claims", () => {
  it("refuses alg:none, expired, future nbf, wrong issuer and wrong audience", async () => {
    const owner = uniqueId("alice");
    const job = await createJob(owner);
    const now = Math.floor(Date.now() / 1000);
    const withIssuer = { ...env, JWT_ISSUER: "https://auth.example.com" } as Env;
    const tokens = {
      none: `${b64url({ alg: "none" })}.${b64url({ sub: owner, exp: now + 60, aud: "dovetail-test" })}.`,
      expired: await mintToken(owner, { expiresIn: now - 30 }),
      futureNbf: await mintToken(owner, { notBefore: now + 600 }),
      wrongIssuer: await mintToken(owner, { issuer: "https://evil.example.com" }),
      noIssuer: await mintToken(owner),
      wrongAudience: await mintToken(owner, { audience: "other" }),
      noSub: await new SignJWT({})
        .setProtectedHeader({ alg: "HS256" })
        .setAudience("dovetail-test")
        .setExpirationTime("5m")
        .sign(new TextEncoder().encode(env.JWT_SECRET)),
      badSub: await mintToken("has space"),
    };
    for (const [label, token] of Object.entries(tokens)) {
      const res = await app.request(`/v1/jobs/${job}`, { headers: { Authorization: `Bearer ${token}` } }, withIssuer);
      expect(res.status, label).toBe(401);
    }
    const good = await mintToken(owner, { issuer: "https://auth.example.com" });
    expect((await app.request(`/v1/jobs/${job}`, { headers: { Authorization: `Bearer ${good}` } }, withIssuer)).status).toBe(200);
  });

  it("refuses a token without exp", async () => {
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("alice")
      .setAudience("dovetail-test")
      .sign(new TextEncoder().encode(env.JWT_SECRET));
    expect((await call("/v1/tickets", { method: "POST", headers: { Authorization: `Bearer ${token}` } })).status).toBe(401);
  });
});

describe("tickets", () => {
  it("refuses an expired ticket", async () => {
    const { issueTicket } = await import("../../src/auth/tickets");
    const { readConfig } = await import("../../src/config");
    const stale = await issueTicket({ id: "alice", rooms: [], expiresAt: Date.now() + 60_000 }, readConfig(env), Date.now() - 31_000);
    const socket = await connect("/v1/ws/user", { query: { ticket: stale.ticket } });
    expect(await socket.closed()).toMatchObject({ code: 4001, reason: "ticket expired" });
  });

  it("refuses a ticket whose payload was edited", async () => {
    const res = await call("/v1/tickets", { method: "POST", headers: { Authorization: `Bearer ${await mintToken("alice")}` } });
    const { ticket } = await res.json<{ ticket: string }>();
    const [, mac] = ticket.split(".");
    const edited = `${b64url({ i: { id: "bob", rooms: ["*"] }, j: "x", e: Date.now() + 10_000 })}.${mac}`;
    expect((await (await connect("/v1/ws/user", { query: { ticket: edited } })).closed()).code).toBe(4001);
  });
});

describe("cross-user access", () => {
  it("keeps a user out of another user's job over HTTP and socket", async () => {
    const job = await createJob(uniqueId("alice"));
    const mallory = await mintToken("mallory");
    expect((await call(`/v1/jobs/${job}`, { headers: { Authorization: `Bearer ${mallory}` } })).status).toBe(404);
    expect((await (await connect(`/v1/ws/job/${job}`, { token: mallory })).closed()).code).toBe(4004);
  });

  it("keeps a user out of a private room, another user's batch and another user's inbox", async () => {
    const alice = uniqueId("alice");
    const mallory = await mintToken("mallory");
    const room = uniqueId("room");
    await produceOkAs(`/v1/rooms/${room}`, { visibility: "private", members: [alice] }, "PUT");
    expect((await (await connect(`/v1/ws/room/${room}`, { token: mallory })).closed()).code).toBe(4003);

    const job = await createJob(alice);
    const batch = uniqueId("batch");
    await produceOkAs("/v1/batches", { id: batch, owner: alice, jobs: [job] });
    expect((await (await connect(`/v1/ws/batch/${batch}`, { token: mallory })).closed()).code).toBe(4004);
    expect((await call(`/v1/batches/${batch}`, { headers: { Authorization: `Bearer ${mallory}` } })).status).toBe(404);

    await produceOkAs(`/v1/users/${alice}/notifications`, { kind: "secret", title: "for alice only" });
    const inbox = await call("/v1/me/notifications", { headers: { Authorization: `Bearer ${mallory}` } });
    expect(inbox.status).toBe(200);
    expect(JSON.stringify(await inbox.json())).not.toContain("for alice only");
    // A user token cannot write into anyone's inbox, its own included.
    const write = await call(`/v1/users/mallory/notifications`, {
      method: "POST",
      headers: { Authorization: `Bearer ${mallory}`, "Content-Type": "application/json" },
      body: JSON.stringify({ kind: "x" }),
    });
    expect(write.status).toBe(401);
  });

  it("routes /v1/ws/user to the token's own user only", async () => {
    const socket = await connect("/v1/ws/user", { token: await mintToken("alice") });
    expect((await socket.next("connected")).channel).toBe("user:alice");
    socket.hangUp();
  });
});

describe("hostile input", () => {
  it("refuses a bad Origin on every socket route", async () => {
    const token = await mintToken("alice");
    for (const path of ["/v1/ws/user", "/v1/ws/job/x", "/v1/ws/room/x", "/v1/ws/batch/x"]) {
      const err = await connect(path, { token, origin: "https://evil.example" }).catch((e: unknown) => e);
      expect(err, path).toBeInstanceOf(UpgradeRefused);
      expect((err as UpgradeRefused).status).toBe(403);
    }
  });

  it("refuses ids with slashes, dot segments, encoded slashes, unicode and 10 KB of length", async () => {
    for (const id of ["a%2Fb", "..%2Fsecret", "%C3%A9t%C3%A9", "%F0%9F%98%80", "x".repeat(10_240)]) {
      const res = await produce(`/v1/jobs/${id}`, undefined, { method: "GET" });
      expect(res.status, id.slice(0, 20)).toBe(400);
    }
  });

  it("refuses JSON nested 10,000 deep without falling over", async () => {
    const owner = uniqueId("alice");
    const job = await createJob(owner);
    const deep = `${"[".repeat(10_000)}${"]".repeat(10_000)}`;
    const res = await produce(`/v1/jobs/${job}/events`, `{"progress":5,"data":${deep}}`);
    expect(res.status).toBe(400);
    expect((await res.json<any>()).error.code).toBe("validation_failed");
    const fine = await produce(`/v1/jobs/${job}/events`, { progress: 6, data: { a: { b: { c: [1, 2, 3] } } } });
    expect(fine.status).toBe(200);
  });

  it("answers bad text frames with an error and keeps the socket and its neighbours", async () => {
    const {
      job,
      sockets: [a, b],
    } = await jobWithSockets(2);
    a.send("not json");
    expect((await a.next("error")).data.code).toBe("validation_failed");
    a.send({ type: "launch_missiles" });
    expect((await a.next("error")).data.code).toBe("validation_failed");
    await produce(`/v1/jobs/${job}/events`, { progress: 9 });
    expect((await a.next("job:update")).data.progress).toBe(9);
    expect((await b.next("job:update")).data.progress).toBe(9);
    a.hangUp();
    b.hangUp();
  });
});

describe("logs", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("never writes a token, key or ticket into a log line", async () => {
    const lines: string[] = [];
    for (const method of ["log", "info", "warn", "error", "debug"] as const) {
      vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
        lines.push(args.map(String).join(" "));
      });
    }
    const owner = uniqueId("alice");
    const job = await createJob(owner);
    const good = await mintToken(owner);
    const expired = await mintToken(owner, { expiresIn: Math.floor(Date.now() / 1000) - 10 });
    const forged = await mintToken(owner, { secret: "forged_secret_0123456789abcdef012345678" });
    const ticketRes = await call("/v1/tickets", { method: "POST", headers: { Authorization: `Bearer ${good}` } });
    const { ticket } = await ticketRes.json<{ ticket: string }>();

    const accepted = await connect(`/v1/ws/job/${job}`, { token: good });
    await accepted.next("connected");
    accepted.hangUp();
    for (const token of [expired, forged]) {
      expect((await (await connect(`/v1/ws/job/${job}`, { token })).closed()).code).toBe(4001);
    }
    for (const token of [good, expired, forged]) await call(`/v1/jobs/${job}`, { headers: { Authorization: `Bearer ${token}` } });
    const byTicket = await connect(`/v1/ws/job/${job}`, { query: { ticket } });
    await byTicket.next("connected");
    byTicket.hangUp();
    expect((await (await connect(`/v1/ws/job/${job}`, { query: { ticket } })).closed()).code).toBe(4001);
    await produce("/v1/jobs", { owner: "x" }, { key: "wrong_key_0123456789abcdefghijklmn" });
    await produce("/v1/jobs", { owner: "bad id" });

    expect(lines.length).toBeGreaterThan(5);
    const secrets = [good, expired, forged, ticket, PRODUCER_KEY, "wrong_key_0123456789abcdefghijklmn", env.JWT_SECRET];
    for (const line of lines) {
      for (const secret of secrets) expect(line.includes(secret as string), line).toBe(false);
      // Nor any JWT-shaped string at all.
      expect(line, line).not.toMatch(/eyJ[\w-]+\.eyJ[\w-]+\./);
    }
  });
});

describe("client frame rate", () => {
  it("answers a flood with rate_limited, then closes it with 4008, and leaves other sockets alone", async () => {
    const {
      job,
      sockets: [flooder, calm],
    } = await jobWithSockets(2);
    // Burst 40 at 20/s, 10 strikes: 200 frames at once must trip both stages.
    for (let i = 0; i < 200; i++) flooder.send({ type: "ping", ref: i });
    const refused = await flooder.next("error");
    expect(refused.data.code).toBe("rate_limited");
    expect((await flooder.closed()).code).toBe(4008);

    await produce(`/v1/jobs/${job}/events`, { progress: 3 });
    expect((await calm.next("job:update")).data.progress).toBe(3);
    calm.send({ type: "ping", ref: "still-here" });
    expect((await calm.next("pong")).type).toBe("pong");
    calm.hangUp();
  });
});

describe("invalid UTF-8", () => {
  it("answers a producer body that is not UTF-8 with 400", async () => {
    const bytes = new Uint8Array([0x7b, 0x22, 0x6f, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]); // {"o":"\xff\xfe"}
    const res = await produce("/v1/jobs", undefined, { body: bytes, headers: { "Content-Type": "application/json" } });
    expect(res.status).toBe(400);
    expect((await res.json<any>()).error).toMatchObject({ code: "validation_failed", message: "body is not valid UTF-8" });
  });
});

describe("client payloads", () => {
  it("refuses a room message whose data nests deeper than 32 levels, and keeps the socket", async () => {
    const room = uniqueId("room");
    await produceOkAs(`/v1/rooms/${room}`, { visibility: "public" }, "PUT");
    const socket = await connect(`/v1/ws/room/${room}`, { token: await mintToken(uniqueId("ada")) });
    await socket.next("connected");
    const deep = JSON.parse(`${"[".repeat(40)}${"]".repeat(40)}`);
    const refused = await socket.request({ type: "message", text: "hi", data: deep });
    expect(refused.data).toMatchObject({ code: "validation_failed" });
    const sent = await socket.request({ type: "message", text: "hi", data: { ok: [1, 2] } });
    expect(sent.type).toBe("ack");
    socket.hangUp();
  });
});
