import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { app } from "../../src/app";
import { verifyUserToken } from "../../src/auth/jwt";
import { readConfig } from "../../src/config";
import { call, mintToken, uniqueId } from "./helpers";

const json = (body: unknown): RequestInit => ({
  method: "POST",
  headers: { "Content-Type": "application/json" },
  body: JSON.stringify(body),
});

describe("dev routes", () => {
  it("answer 404 when DEV_MODE is off, as it is when deployed", async () => {
    const token = await mintToken(uniqueId("alice"));
    const auth = { Authorization: `Bearer ${token}`, "Content-Type": "application/json" };
    for (const [path, headers] of [
      ["/dev/token", { "Content-Type": "application/json" }],
      ["/dev/jobs", auth],
      ["/dev/notify", auth],
    ] as const) {
      const res = await call(path, { method: "POST", headers, body: JSON.stringify({ name: "Ada" }) });
      expect(res.status, path).toBe(404);
      expect(((await res.json()) as any).error.code).toBe("not_found");
    }
  });

  it("mint a token the hub accepts, for any name, in dev mode", async () => {
    const dev = { ...env, DEV_MODE: "1" } as Env;
    const res = await app.request("/dev/token", json({ name: "Ada Lovelace" }), dev);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { token: string; user: { id: string; name: string } };
    expect(body.user).toEqual({ id: "dev-ada-lovelace", name: "Ada Lovelace" });
    const identity = await verifyUserToken(body.token, readConfig(dev).jwt);
    expect(identity).toMatchObject({ id: "dev-ada-lovelace", name: "Ada Lovelace", rooms: ["lobby", "demo-*"] });
    expect(identity.expiresAt).toBeGreaterThan(Date.now());
  });

  it("refuse a token for an empty name or an unknown field", async () => {
    const dev = { ...env, DEV_MODE: "1" } as Env;
    expect((await app.request("/dev/token", json({ name: "  " }), dev)).status).toBe(400);
    expect((await app.request("/dev/token", json({ name: "Ada", admin: true }), dev)).status).toBe(400);
  });
});
