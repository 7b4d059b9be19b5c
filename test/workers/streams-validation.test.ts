import { listDurableObjectIds } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, mintToken, PRODUCER_KEY, uniqueId } from "./helpers";
import { createStream, OFFSET, readStream, streamCall, streamPath } from "./streams";

async function expectError(res: Response, status: number, code: string, what: string) {
  expect(res.status, `${what}: status`).toBe(status);
  const body = (await res.json()) as { error: { code: string; message: string } };
  expect(body.error.code, `${what}: code`).toBe(code);
  expect(body.error.message.length, `${what}: message`).toBeGreaterThan(0);
}

const objectCount = async () => (await listDurableObjectIds(env.STREAM_HUB)).length;

describe("bad stream requests", () => {
  it("refuses bad paths with 400 before any object exists", async () => {
    const before = await objectCount();
    const deep = Array.from({ length: 9 }, (_, i) => `d${i}`).join("/");
    for (const raw of [
      "a%20b",
      "a%2Fb",
      "caf%C3%A9",
      "a//b",
      "a/",
      "a/.../b~ok/%2E",
      "semi;colon",
      "x".repeat(513),
      deep,
      "jobs",
      "jobs/bad$id/out",
      "users/",
    ]) {
      await expectError(await streamCall(raw, { method: "PUT", headers: { "Content-Type": "text/plain" } }), 400, "validation_failed", raw);
      await expectError(await streamCall(raw), 400, "validation_failed", raw);
    }
    // The URL parser resolves "." and ".." segments (a/./b is a/b) before the route sees them.
    expect(await objectCount()).toBe(before);
  });

  it("refuses bad headers with 400 before any object exists", async () => {
    const before = await objectCount();
    const path = streamPath("headers");
    const put = (headers: Record<string, string>) => streamCall(path, { method: "PUT", headers });
    const post = (headers: Record<string, string>, body = "x") => streamCall(path, { method: "POST", headers, body });
    const cases: [string, Promise<Response>][] = [
      ["TTL with a sign", put({ "Stream-TTL": "+60" })],
      ["TTL with leading zero", put({ "Stream-TTL": "060" })],
      ["TTL as a float", put({ "Stream-TTL": "1.5" })],
      ["TTL and Expires-At", put({ "Stream-TTL": "60", "Stream-Expires-At": new Date().toISOString() })],
      ["Expires-At not RFC 3339", put({ "Stream-Expires-At": "tomorrow" })],
      ["Content-Type not a media type", put({ "Content-Type": "text" })],
      ["Stream-Closed not a boolean", put({ "Stream-Closed": "yes" })],
      ["readers not ids", put({ "Dovetail-Readers": "al ice" })],
      ["fork offset without source", put({ "Stream-Fork-Offset": "0000000000000000_0000000000000000" })],
      ["fork source not a stream URL", put({ "Stream-Forked-From": "/v1/jobs/1" })],
      ["append without Content-Type", streamCall(path, { method: "POST", body: new Blob(["x"]) })],
      ["half the producer headers", post({ "Content-Type": "text/plain", "Producer-Id": "p", "Producer-Epoch": "0" })],
      [
        "producer seq not an integer",
        post({ "Content-Type": "text/plain", "Producer-Id": "p", "Producer-Epoch": "0", "Producer-Seq": "1e3" }),
      ],
      ["empty Stream-Seq", post({ "Content-Type": "text/plain", "Stream-Seq": "" })],
    ];
    for (const [what, res] of cases) await expectError(await res, 400, "validation_failed", what);
    expect(await objectCount()).toBe(before);
  });

  it("refuses malformed offsets and parameters with 400 before any object exists", async () => {
    const before = await objectCount();
    const path = streamPath("offsets");
    for (const query of <Record<string, string>[]>[
      { offset: "" },
      { offset: "0,1" },
      { offset: "../x" },
      { offset: "12" },
      { offset: "0000000000000000_000000000000000" },
      { offset: "-1", live: "websocket" },
      { live: "long-poll" },
      { live: "sse" },
      { offset: "-1", live: "long-poll", cursor: "abc" },
    ]) {
      await expectError(await readStream(path, query), 400, "validation_failed", JSON.stringify(query));
    }
    await expectError(
      await call(`/v1/stream/${path}?offset=a&offset=b`, { headers: { Authorization: `Bearer ${PRODUCER_KEY}` } }),
      400,
      "validation_failed",
      "two offsets",
    );
    expect(await objectCount()).toBe(before);
  });

  it("refuses well-formed offsets that name no position in the stream, and oversized bodies", async () => {
    const path = streamPath("positions");
    const tail = (await createStream(path, "text/plain", {}, "hello")).headers.get(OFFSET) as string;
    expect(tail).toBe("0000000000000001_0000000000000005");
    for (const offset of ["0000000000000001_0000000000000004", "0000000000000002_0000000000000009", "9999999999999999_9999999999999999"]) {
      await expectError(await readStream(path, { offset }), 400, "validation_failed", offset);
    }
    const big = new Uint8Array(1_048_577);
    await expectError(
      await streamCall(path, { method: "POST", headers: { "Content-Type": "text/plain" }, body: big }),
      413,
      "payload_too_large",
      "1 MiB + 1",
    );
  });

  it("answers 401, 404, 405 and a client's 403 without creating an object", async () => {
    const before = await objectCount();
    const path = streamPath("nothing");
    await expectError(await readStream(path, {}, { token: "" }), 401, "unauthorized", "no token");
    await expectError(await readStream(path, {}, { token: "not-a-key-or-token" }), 401, "unauthorized", "bad token");
    await expectError(await streamCall(path, { method: "PUT", token: await mintToken(uniqueId("u")) }), 403, "forbidden", "client PUT");
    const patch = await streamCall(path, { method: "PATCH" });
    expect(patch.headers.get("Allow")).toContain("PUT");
    await expectError(patch, 405, "method_not_allowed", "PATCH");
    expect(await objectCount()).toBe(before);
    // A valid path that holds no stream is a 404 and leaves nothing stored behind.
    await expectError(await readStream(path), 404, "not_found", "GET unknown");
    await expectError(
      await streamCall(path, { method: "POST", headers: { "Content-Type": "text/plain" }, body: "x" }),
      404,
      "not_found",
      "POST unknown",
    );
    await expectError(await streamCall(path, { method: "DELETE" }), 404, "not_found", "DELETE unknown");
  });
});
