import { listDurableObjectIds } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { app } from "../../src/app";
import { connect, mintToken, produce, UpgradeRefused } from "./helpers";

async function expectError(res: Response, status: number, code: string) {
  expect(res.status).toBe(status);
  const body = await res.json<any>();
  expect(body.error.code).toBe(code);
  expect(typeof body.error.message).toBe("string");
  return body.error;
}

describe("bad producer input", () => {
  it("answers 400 or 413 with a stable code and creates no object", async () => {
    const before = (await listDurableObjectIds(env.JOB_HUB)).length;

    await expectError(await produce("/v1/jobs", "{not json"), 400, "validation_failed");
    const typed = await expectError(await produce("/v1/jobs", { owner: 42 }), 400, "validation_failed");
    expect(typed.issues[0].path).toBe("owner");
    await expectError(await produce("/v1/jobs", { owner: "alice", colour: "red" }), 400, "validation_failed");
    await expectError(await produce("/v1/jobs", { owner: "al ice" }), 400, "validation_failed");
    await expectError(await produce("/v1/jobs", { id: "a/b", owner: "alice" }), 400, "validation_failed");
    await expectError(await produce("/v1/jobs", { owner: "alice", title: "x".repeat(70_000) }), 413, "payload_too_large");

    for (const id of ["bad%20id", "a%2Fb", "%E2%9C%93", "x".repeat(129), "..%2F.."]) {
      await expectError(await produce(`/v1/jobs/${id}/events`, { progress: 1 }), 400, "validation_failed");
      await expectError(await produce(`/v1/jobs/${id}`, undefined, { method: "GET" }), 400, "validation_failed");
    }
    // The URL parser resolves an encoded ".." segment away: no route, so no object either.
    await expectError(await produce("/v1/jobs/%2E%2E/events", { progress: 1 }), 404, "not_found");
    await expectError(await produce("/v1/jobs/ok-id/events", { progress: "50" }), 400, "validation_failed");
    await expectError(await produce("/v1/jobs/ok-id/events", { progress: 101 }), 400, "validation_failed");
    await expectError(await produce("/v1/jobs/ok-id/events", { event_id: "e" }), 400, "validation_failed");
    await expectError(await produce("/v1/jobs/ok-id/events", { status: "done" }), 400, "validation_failed");

    expect((await listDurableObjectIds(env.JOB_HUB)).length).toBe(before);
  });

  it("counts the bytes that arrive, not the Content-Length a client claims", async () => {
    const big = new TextEncoder().encode(JSON.stringify({ owner: "alice", title: "y".repeat(80_000) }));
    const stream = new ReadableStream({
      start(controller) {
        controller.enqueue(big);
        controller.close();
      },
    });
    const res = await produce("/v1/jobs", undefined, { body: stream, headers: { "Content-Type": "application/json" } });
    await expectError(res, 413, "payload_too_large");
    // A declared length is read in one go, and what arrived is still measured.
    const lying = new ReadableStream({
      start(controller) {
        controller.enqueue(big);
        controller.close();
      },
    });
    const claimed = await produce("/v1/jobs", undefined, {
      body: lying,
      headers: { "Content-Type": "application/json", "Content-Length": "40" },
    });
    await expectError(claimed, 413, "payload_too_large");
  });
});

describe("bad socket requests", () => {
  it("refuses a bad channel id or kind over HTTP before any object exists", async () => {
    const before = (await listDurableObjectIds(env.JOB_HUB)).length;
    const token = await mintToken("alice");
    for (const path of ["/v1/ws/job/bad$id", "/v1/ws/job/a%2Fb", "/v1/ws/nope/x"]) {
      const attempt = await connect(path, { token }).catch((err: unknown) => err);
      expect(attempt, path).toBeInstanceOf(UpgradeRefused);
    }
    const badSince = await connect("/v1/ws/job/ok", { token, query: { since: "-1" } }).catch((e: UpgradeRefused) => e);
    expect((badSince as UpgradeRefused).status).toBe(400);
    expect((await listDurableObjectIds(env.JOB_HUB)).length).toBe(before);
  });

  it("answers 404 for a channel kind that is an inherited property name, and creates no object", async () => {
    const before = (await listDurableObjectIds(env.JOB_HUB)).length;
    const token = await mintToken("alice");
    for (const path of ["/v1/ws/constructor/x", "/v1/ws/__proto__/x", "/v1/ws/toString/x", "/v1/ws/user/alice"]) {
      const refused = await connect(path, { token }).catch((err: unknown) => err);
      expect(refused, path).toBeInstanceOf(UpgradeRefused);
      expect((refused as UpgradeRefused).status, path).toBe(404);
    }
    for (const kinds of ["__proto__", "constructor", "toString", "hasOwnProperty"]) {
      await expectError(await produce(`/v1/${kinds}/x/stats`, undefined, { method: "GET" }), 404, "not_found");
    }
    expect((await listDurableObjectIds(env.JOB_HUB)).length).toBe(before);
  });

  it("answers a plain GET on a socket route with 426", async () => {
    await expectError(await produce("/v1/ws/job/x", undefined, { method: "GET" }), 426, "upgrade_required");
  });
});

describe("configuration", () => {
  const production = { ...env, DEV_MODE: "0" } as Env;

  it("refuses to serve with dev secrets when not in dev mode", async () => {
    const res = await app.request("/v1/jobs/x", {}, { ...production, PRODUCER_KEYS: "dev_producer_key_not_for_production" });
    const error = await expectError(res, 503, "misconfigured");
    expect(error.message).toContain("PRODUCER_KEYS");
    expect(error.message).not.toContain("dev_producer_key");
  });

  it("refuses to serve with no producer keys or no JWT key", async () => {
    await expectError(await app.request("/", {}, { ...production, PRODUCER_KEYS: "" }), 503, "misconfigured");
    await expectError(await app.request("/", {}, { ...production, JWT_SECRET: "" }), 503, "misconfigured");
  });

  it("accepts the dev defaults in dev mode", async () => {
    const dev = {
      ...env,
      DEV_MODE: "1",
      PRODUCER_KEYS: "dev_producer_key_not_for_production",
      JWT_SECRET: "dev_jwt_secret_not_for_production_0123456789",
    } as Env;
    expect((await app.request("/", {}, dev)).status).toBe(200);
  });
});
