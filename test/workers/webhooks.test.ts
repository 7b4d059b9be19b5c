import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import app from "../../src/index";
import { installClock, timerNames } from "./clock";
import { call, connect, mintToken, produce, produceOk, uniqueId } from "./helpers";

async function expectError(res: Response, status: number, code: string): Promise<{ message: string }> {
  const body = (await res.json()) as { error: { code: string; message: string } };
  expect(res.status, JSON.stringify(body)).toBe(status);
  expect(body.error.code).toBe(code);
  return body.error;
}

describe("webhook configuration", () => {
  const production = { ...env, DEV_MODE: "0" } as Env;
  const problems = async (vars: Record<string, string>) => {
    const res = await app.request("/", {}, { ...production, ...vars });
    return res.status === 503 ? ((await res.json()) as { error: { message: string } }).error.message : "";
  };

  it("refuses to serve with a WEBHOOK_URL that is not public https, or without a valid secret", async () => {
    expect(await problems({ WEBHOOK_URL: "http://hooks.example.com/x" })).toContain("WEBHOOK_URL must be an https URL");
    expect(await problems({ WEBHOOK_URL: "https://10.0.0.8/x" })).toContain("loopback, private or link-local");
    expect(await problems({ WEBHOOK_URL: "https://hooks.example.com/x", WEBHOOK_SECRET: "" })).toContain("needs WEBHOOK_SECRET");
    expect(await problems({ WEBHOOK_SECRET: "whsec_tooshort" })).toContain("WEBHOOK_SECRET must be whsec_");
    expect(await problems({ WEBHOOK_RETRY_BASE_MS: "0" })).toContain("WEBHOOK_RETRY_BASE_MS");
    expect(await problems({ WEBHOOK_URL: "https://hooks.example.com/x" })).toBe("");
  });

  it("never names the secret in its complaint", async () => {
    const message = await problems({ WEBHOOK_SECRET: "whsec_c2VjcmV0LXZhbHVlLXRoYXQtaXMtc2hvcnQ= whsec_!!" });
    expect(message).toContain("WEBHOOK_SECRET");
    expect(message).not.toContain("c2VjcmV0");
  });
});

describe("webhook_url on rooms and jobs", () => {
  it("takes a public https URL, and refuses http, private addresses and credentials with a 400 naming the field", async () => {
    const room = uniqueId("room");
    expect(
      (await produce(`/v1/rooms/${room}`, { visibility: "public", webhook_url: "https://hooks.example.com/rooms" }, { method: "PUT" }))
        .status,
    ).toBe(200);
    for (const webhook_url of [
      "http://hooks.example.com/x",
      "https://192.168.0.10/x",
      "https://u:p@hooks.example.com/x",
      "https://[::1]/x",
    ]) {
      const res = await produce(`/v1/rooms/${room}`, { visibility: "public", webhook_url }, { method: "PUT" });
      expect((await expectError(res, 400, "validation_failed")).message, webhook_url).toMatch(/^webhook_url /);
      const job = await produce("/v1/jobs", { id: uniqueId("job"), owner: "alice", webhook_url });
      await expectError(job, 400, "validation_failed");
    }
    expect((await produce("/v1/jobs", { id: uniqueId("job"), owner: "alice", webhook_url: "https://hooks.example.com/jobs" })).status).toBe(
      201,
    );
  });
});

describe("the dead-letter routes", () => {
  it("are for producers only, validate their query, and answer 404 for an unknown dead letter", async () => {
    await expectError(await call("/v1/webhooks/failed"), 401, "unauthorized");
    const token = await mintToken("alice");
    await expectError(await call("/v1/webhooks/failed", { headers: { Authorization: `Bearer ${token}` } }), 401, "unauthorized");
    await expectError(await produce("/v1/webhooks/failed?limit=0", undefined, { method: "GET" }), 400, "validation_failed");
    await expectError(await produce("/v1/webhooks/failed?limit=abc", undefined, { method: "GET" }), 400, "validation_failed");
    expect(await produceOk(`/v1/webhooks/failed?channel=room:${uniqueId("none")}`, undefined, { method: "GET" })).toEqual({
      failed: [],
      total: 0,
    });
    await expectError(await produce(`/v1/webhooks/failed/msg_${"0".repeat(32)}/replay`, {}), 404, "not_found");
    await expectError(await produce("/v1/webhooks/failed/../../x/replay", {}), 404, "not_found");
  });
});

describe("emit", () => {
  it("is refused with a clear error on a channel with no webhook receiver, and nothing is queued", async () => {
    const room = uniqueId("room");
    await produceOk(`/v1/rooms/${room}`, { visibility: "public" }, { method: "PUT" });
    const socket = await connect(`/v1/ws/room/${room}`, { token: await mintToken("alice") });
    await socket.next("connected");
    const reply = await socket.request({ type: "emit", event: "log_event", data: { n: 1 } });
    expect(reply).toMatchObject({
      type: "error",
      data: { code: "misconfigured", message: expect.stringContaining("no webhook receiver") },
    });
    const rows = await runInDurableObject(env.ROOM_HUB.getByName(room), (_i, state) =>
      state.storage.sql.exec("SELECT * FROM webhook_outbox").toArray(),
    );
    expect(rows).toEqual([]);
    socket.hangUp();
  });

  it("is stored in the outbox before it is acked, and the outbox and its timer survive eviction", async () => {
    const room = uniqueId("room");
    const stub = env.ROOM_HUB.getByName(room);
    // A clock a day ahead: the real alarm stays far away, so nothing is sent from here.
    await installClock([stub]);
    await produceOk(`/v1/rooms/${room}`, { visibility: "public", webhook_url: "https://hooks.example.com/rooms" }, { method: "PUT" });
    const socket = await connect(`/v1/ws/room/${room}`, { token: await mintToken("alice", { name: "Alice" }) });
    await socket.next("connected");
    const reply = await socket.request({ type: "emit", event: "ai_generation_start", data: { prompt: "fox" } });
    expect(reply).toMatchObject({ type: "ack", data: { id: expect.stringMatching(/^msg_/) } });
    socket.hangUp();
    await evictDurableObject(stub);
    const rows = await runInDurableObject(stub, (_i, state) =>
      state.storage.sql
        .exec<{ id: string; type: string; body: string }>("SELECT id, type, body FROM webhook_outbox WHERE type = 'client.event'")
        .toArray(),
    );
    expect(rows.map((r) => r.id)).toEqual([reply.data.id]);
    expect(JSON.parse(rows[0]!.body)).toMatchObject({
      type: "client.event",
      channel: `room:${room}`,
      data: { event: "ai_generation_start", data: { prompt: "fox" }, user: { id: "alice", name: "Alice" } },
    });
    expect(await timerNames(stub)).toContain("webhooks");
  });
});
