// The edge guards in front of every route: failed producer keys limited per address,
// IPv6 counted by /64, token lifetimes capped, JSON bodies that must say so, and logs
// that never keep a ticket.
import { env } from "cloudflare:workers";
import { SignJWT } from "jose";
import { afterEach, describe, expect, it, vi } from "vitest";
import { addressKey } from "../../src/auth/client-address";
import { log } from "../../src/log";
import { call, connect, createJob, mintToken, PRODUCER_KEY, produce, uniqueId } from "./helpers";

const WRONG_KEY = "wrong_key_0123456789abcdefghijklmn";

describe("failed producer keys", () => {
  it("answers a wrong-key flood with 429 after 20 failures a minute, then refuses even the right key from there", async () => {
    const ip = "192.0.2.44";
    const statuses: number[] = [];
    // If the binding's minute turns inside the flood the budget refills once: the first
    // 429 then comes later, but never before 20 failures, and every answer after it is 429.
    while (statuses.length < 60 && statuses.filter((s) => s === 429).length < 5) {
      statuses.push((await produce("/v1/jobs", { owner: "x" }, { key: WRONG_KEY, headers: { "CF-Connecting-IP": ip } })).status);
    }
    const first = statuses.indexOf(429);
    expect(first).toBeGreaterThanOrEqual(20);
    expect(first).toBeLessThanOrEqual(40);
    expect(statuses.slice(0, first).every((s) => s === 401)).toBe(true);
    expect(statuses.slice(first)).toEqual(Array(5).fill(429));
    const blocked = await produce("/v1/jobs", { owner: "x" }, { headers: { "CF-Connecting-IP": ip } });
    expect(blocked.status).toBe(429);
    expect(blocked.headers.get("Retry-After")).toBe("60");
    // Guesses through the routes that also take user tokens count the same way.
    expect((await call("/v1/jobs/x", { headers: { "CF-Connecting-IP": ip, Authorization: `Bearer ${WRONG_KEY}` } })).status).toBe(429);
    // Everyone else is untouched.
    expect((await produce("/v1/jobs", { owner: uniqueId("alice") })).status).toBe(201);
  });

  it("counts a whole IPv6 /64 as one address", async () => {
    // Every attempt from another address of the same /64: counted per address, none would be refused.
    const statuses: number[] = [];
    for (let i = 0; i < 60 && !statuses.includes(429); i++) {
      const ip = `2001:db8:77:1:${i.toString(16)}::${(i * 7 + 1).toString(16)}`;
      statuses.push((await produce("/v1/jobs", { owner: "x" }, { key: WRONG_KEY, headers: { "CF-Connecting-IP": ip } })).status);
    }
    expect(statuses.indexOf(429)).toBeGreaterThanOrEqual(20);
    const sameNet = await produce("/v1/jobs", { owner: "x" }, { headers: { "CF-Connecting-IP": "2001:db8:77:1:ffff::1" } });
    expect(sameNet.status).toBe(429);
    const otherNet = await produce("/v1/jobs", { owner: "x" }, { key: WRONG_KEY, headers: { "CF-Connecting-IP": "2001:db8:77:2::1" } });
    expect(otherNet.status).toBe(401);
  });
});

describe("the upgrade limiter", () => {
  it("keys IPv6 clients by their /64", async () => {
    for (let i = 0; i < 120; i++) {
      const socket = await connect("/v1/ws/user", { ip: `2001:db8:42:9:${i.toString(16)}::1` });
      expect((await socket.closed()).code).toBe(4001);
    }
    expect((await (await connect("/v1/ws/user", { ip: "2001:db8:42:9:abcd:1:2:3" })).closed()).code).toBe(4008);
    expect((await (await connect("/v1/ws/user", { ip: "2001:db8:42:a::1" })).closed()).code).toBe(4001);
  });

  it("derives the same key for every spelling of an address", () => {
    expect(addressKey("2001:0DB8:0000:0001:0000:0000:0000:0001")).toBe("2001:db8:0:1::/64");
    expect(addressKey("2001:db8:0:1::1")).toBe("2001:db8:0:1::/64");
    expect(addressKey("2001:db8:0:1:ffff:ffff:ffff:ffff")).toBe("2001:db8:0:1::/64");
    expect(addressKey("fe80::1%eth0")).toBe("fe80:0:0:0::/64");
    expect(addressKey("::ffff:192.0.2.1")).toBe("192.0.2.1");
    expect(addressKey("192.0.2.1")).toBe("192.0.2.1");
    expect(addressKey("not:an::ip::x")).toBe("not:an::ip::x");
  });
});

describe("token lifetime", () => {
  const sign = (claims: Record<string, unknown>) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("alice")
      .setAudience("dovetail-test")
      .sign(new TextEncoder().encode(env.JWT_SECRET));

  it("refuses exp in 2999, a lifetime over JWT_MAX_TTL_S (24 h) and a future iat", async () => {
    const owner = uniqueId("alice");
    const job = await createJob(owner);
    const now = Math.floor(Date.now() / 1000);
    const cases = {
      year2999: await mintToken(owner, { expiresIn: Date.UTC(2999, 0, 1) / 1000 }),
      twoDays: await mintToken(owner, { expiresIn: "48h" }),
      noIatTwoDays: await sign({ sub: owner, exp: now + 2 * 86_400 }),
      futureIat: await sign({ sub: owner, iat: now + 3_600, exp: now + 7_200 }),
    };
    for (const [label, token] of Object.entries(cases)) {
      expect((await call(`/v1/jobs/${job}`, { headers: { Authorization: `Bearer ${token}` } })).status, label).toBe(401);
      expect((await (await connect(`/v1/ws/job/${job}`, { token })).closed()).code, label).toBe(4001);
    }
    const day = await mintToken(owner, { expiresIn: "23h" });
    expect((await call(`/v1/jobs/${job}`, { headers: { Authorization: `Bearer ${day}` } })).status).toBe(200);
  });
});

describe("Content-Type", () => {
  it("answers 415 for a JSON route posted without application/json, and reads nothing", async () => {
    const body = JSON.stringify({ owner: "alice" });
    for (const type of [
      undefined,
      "text/plain",
      "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=x",
      "application/jsonp",
    ]) {
      const headers: Record<string, string> = { Authorization: `Bearer ${PRODUCER_KEY}` };
      if (type) headers["Content-Type"] = type;
      const res = await call("/v1/jobs", { method: "POST", headers, body });
      expect(res.status, String(type)).toBe(415);
      expect((await res.json<any>()).error.code).toBe("unsupported_media_type");
    }
    for (const type of ["application/json", "application/json; charset=utf-8", "Application/JSON;charset=UTF-8"]) {
      const res = await call("/v1/jobs", {
        method: "POST",
        headers: { Authorization: `Bearer ${PRODUCER_KEY}`, "Content-Type": type },
        body,
      });
      expect(res.status, type).toBe(201);
    }
  });
});

describe("log lines", () => {
  afterEach(() => vi.restoreAllMocks());

  it("strip ticket query values and JWT-shaped strings from anything logged", async () => {
    const lines: string[] = [];
    vi.spyOn(console, "log").mockImplementation((line: unknown) => lines.push(String(line)));
    const token = await mintToken("alice");
    log("probe", { url: "https://hub.test/v1/ws/user?since=3&ticket=abc.def-123&epoch=e", message: `bad ${token}` });
    expect(lines[0]).toContain("ticket=[redacted]&epoch=e");
    expect(lines[0]).not.toContain("abc.def-123");
    expect(lines[0]).not.toContain(token);
  });
});
