import { runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { installClock } from "./clock";
import { call, connect, mintToken, produce, produceOk, uniqueId } from "./helpers";
import { appendTo, OFFSET, readAll, streamCall } from "./streams";

const START = "0000000000000000_0000000000000000";

async function jobWithOutput(owner: string, extra: Record<string, unknown> = {}) {
  const id = uniqueId("job");
  const res = await produce("/v1/jobs", { id, owner, output: {}, ...extra });
  expect(res.status).toBe(201);
  return { id, path: `jobs/${id}/output`, body: await res.json<any>() };
}

async function jobAs(id: string, token: string) {
  const res = await call(`/v1/jobs/${id}`, { headers: { Authorization: `Bearer ${token}` } });
  expect(res.status).toBe(200);
  return res.json<any>();
}

describe("a job's output stream", () => {
  it("is created with the job, empty and open, and the job names it", async () => {
    const owner = uniqueId("alice");
    const { id, path, body } = await jobWithOutput(owner);
    expect(body.output).toEqual({ path, content_type: "text/plain", next_offset: START, closed: false });
    const head = await streamCall(path, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("Content-Type")).toBe("text/plain");
    expect(head.headers.get(OFFSET)).toBe(START);
    // The same body again is the same job, and finds its stream there.
    const again = await produce("/v1/jobs", { id, owner, output: {} });
    expect(again.status).toBe(200);
    expect((await again.json<any>()).output.path).toBe(path);
  });

  it("takes plain Durable Streams appends from the producer; the job reports the position, with no job event per chunk", async () => {
    const owner = uniqueId("alice");
    const token = await mintToken(owner);
    const { id, path } = await jobWithOutput(owner);
    const socket = await connect(`/v1/ws/job/${id}`, { token });
    await socket.next("connected");
    const chunks = ["Once ", "upon ", "a time"];
    let last = "";
    for (const chunk of chunks) {
      const res = await appendTo(path, chunk);
      expect(res.status).toBe(204);
      last = res.headers.get(OFFSET) as string;
    }
    const view = await jobAs(id, token);
    expect(view.output).toEqual({ path, content_type: "text/plain", next_offset: last, closed: false });
    // The owner reads the output with the same token; a stranger may not.
    expect(new TextDecoder().decode((await readAll(path, "-1", { token })).bytes)).toBe("Once upon a time");
    expect((await streamCall(path, { token: await mintToken(uniqueId("mallory")) })).status).toBe(403);

    // The next job frame is the producer's progress, not one per chunk.
    await produceOk(`/v1/jobs/${id}/events`, { status: "running", progress: 50 });
    expect((await socket.next()).type).toBe("job:update");
    expect(socket.frames.filter((f) => f.type.startsWith("job:")).length).toBe(1);
    // A socket joining now gets the output's position in its snapshot.
    const late = await connect(`/v1/ws/job/${id}`, { token });
    expect((await late.next("connected")).data.snapshot.output).toEqual({
      path,
      content_type: "text/plain",
      next_offset: last,
      closed: false,
    });
    socket.hangUp();
    late.hangUp();
  });

  it("closes when the job reaches a final state; later appends are refused", async () => {
    const owner = uniqueId("alice");
    const { id, path } = await jobWithOutput(owner, { output: { content_type: "application/json" } });
    expect((await appendTo(path, '{"token":"Hi"}', {}, "application/json")).status).toBe(204);
    await produceOk(`/v1/jobs/${id}/events`, { status: "completed" });
    // The close runs from the job's alarm, due at once.
    await expect
      .poll(async () => (await streamCall(path, { method: "HEAD" })).headers.get("Stream-Closed"), { timeout: 5_000 })
      .toBe("true");
    const head = await streamCall(path, { method: "HEAD" });
    const late = await appendTo(path, '{"token":"late"}', {}, "application/json");
    expect(late.status).toBe(409);
    expect((await late.json<any>()).error.code).toBe("stream_closed");
    const view = await jobAs(id, await mintToken(owner));
    expect(view.output).toMatchObject({ content_type: "application/json", closed: true, next_offset: head.headers.get(OFFSET) });
    expect(JSON.parse(new TextDecoder().decode((await readAll(path)).bytes))).toEqual([{ token: "Hi" }]);
  });

  it("is deleted when the job expires", async () => {
    const owner = uniqueId("alice");
    const id = uniqueId("job");
    const stub = env.JOB_HUB.getByName(id);
    const clock = await installClock([stub]);
    await produceOk("/v1/jobs", { id, owner, ttl_s: 60, output: {} });
    const path = `jobs/${id}/output`;
    await appendTo(path, "partial");
    await produceOk(`/v1/jobs/${id}/events`, { status: "failed", error: { code: "boom", message: "it broke" } });
    clock.advance(61_000);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect((await produce(`/v1/jobs/${id}`, undefined, { method: "GET" })).status).toBe(404);
    expect((await streamCall(path, { method: "HEAD" })).status).toBe(404);
  });

  it("refuses a bad output spec with validation_failed, and creates neither the job nor its stream", async () => {
    const owner = uniqueId("alice");
    for (const output of [{ content_type: "not a type" }, { content_type: 7 }, { kind: "text" }, "text/plain"]) {
      const id = uniqueId("job");
      const res = await produce("/v1/jobs", { id, owner, output });
      expect(res.status).toBe(400);
      expect((await res.json<any>()).error.code).toBe("validation_failed");
      expect((await streamCall(`jobs/${id}/output`, { method: "HEAD" })).status).toBe(404);
    }
  });

  it("a job without output has no output field and no stream", async () => {
    const id = uniqueId("job");
    const body = await produceOk("/v1/jobs", { id, owner: uniqueId("alice") });
    expect(body).not.toHaveProperty("output");
    expect((await streamCall(`jobs/${id}/output`, { method: "HEAD" })).status).toBe(404);
  });
});
