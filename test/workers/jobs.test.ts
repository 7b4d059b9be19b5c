import { describe, expect, it } from "vitest";
import { call, connect, createJob, mintToken, produce, produceOk, uniqueId } from "./helpers";

describe("a job from producer POST to subscriber socket", () => {
  it("delivers job:created and ten updates in order with consecutive seq", async () => {
    const owner = uniqueId("alice");
    const job = await createJob(owner, { title: "Render video" });
    const socket = await connect(`/v1/ws/job/${job}`, { token: await mintToken(owner), query: { since: 0 } });
    expect(socket.protocol).toBe("dovetail.v1");

    const connected = await socket.next("connected");
    expect(connected.data.resumed).toBe(true);
    expect(connected.data.snapshot).toMatchObject({ id: job, owner, status: "queued", progress: 0 });
    expect((await socket.next()).type).toBe("job:created");

    for (let i = 1; i <= 10; i++) {
      await produceOk(`/v1/jobs/${job}/events`, { status: "running", progress: i * 9, message: `step ${i}` });
    }
    const updates = await socket.take(10);
    expect(updates.map((f) => f.type)).toEqual(Array(10).fill("job:update"));
    expect(updates.map((f) => f.seq)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(updates.map((f) => f.data.progress)).toEqual([9, 18, 27, 36, 45, 54, 63, 72, 81, 90]);
    expect(updates[9]).toMatchObject({ channel: `job:${job}`, data: { message: "step 10", status: "running" } });
    socket.hangUp();
  });

  it("gives a socket that joins late the current state as its snapshot", async () => {
    const owner = uniqueId("alice");
    const job = await createJob(owner);
    await produceOk(`/v1/jobs/${job}/events`, { status: "running", progress: 40, stage: "encoding" });
    const socket = await connect(`/v1/ws/job/${job}`, { token: await mintToken(owner) });
    const connected = await socket.next("connected");
    expect(connected.data).toMatchObject({ seq: 2, resumed: false, user: { id: owner } });
    expect(connected.data.snapshot).toMatchObject({ status: "running", progress: 40, stage: "encoding" });
    expect(connected.data.epoch).toMatch(/^[a-f0-9]{16}$/);
    socket.hangUp();
  });

  it("ends with job:completed carrying the result, and refuses updates after it with 409", async () => {
    const owner = uniqueId("alice");
    const job = await createJob(owner);
    const socket = await connect(`/v1/ws/job/${job}`, { token: await mintToken(owner) });
    await socket.next("connected");
    await produceOk(`/v1/jobs/${job}/events`, { status: "completed", result: { url: "https://cdn.example/v.mp4" } });
    const done = await socket.next("job:completed");
    expect(done.data).toMatchObject({ status: "completed", progress: 100, result: { url: "https://cdn.example/v.mp4" } });

    const late = await produce(`/v1/jobs/${job}/events`, { progress: 10 });
    expect(late.status).toBe(409);
    expect((await late.json<any>()).error.code).toBe("job_finished");
    socket.hangUp();
  });

  it("sends job:failed with an error and job:cancelled for those final states", async () => {
    const owner = uniqueId("alice");
    const failing = await createJob(owner);
    const cancelled = await createJob(owner);
    const a = await connect(`/v1/ws/job/${failing}`, { token: await mintToken(owner) });
    const b = await connect(`/v1/ws/job/${cancelled}`, { token: await mintToken(owner) });
    await produceOk(`/v1/jobs/${failing}/events`, { status: "failed", error: { code: "gpu_oom", message: "out of memory" } });
    await produceOk(`/v1/jobs/${cancelled}/events`, { status: "cancelled" });
    expect((await a.next("job:failed")).data.error).toEqual({ code: "gpu_oom", message: "out of memory" });
    expect((await b.next("job:cancelled")).data.status).toBe("cancelled");
    a.hangUp();
    b.hangUp();
  });

  it("never lets progress go backwards", async () => {
    const owner = uniqueId("alice");
    const job = await createJob(owner);
    await produceOk(`/v1/jobs/${job}/events`, { progress: 50 });
    const res = await produceOk<any>(`/v1/jobs/${job}/events`, { progress: 30 });
    expect(res.state.progress).toBe(50);
    expect((await produceOk<any>(`/v1/jobs/${job}`, undefined, { method: "GET" })).progress).toBe(50);
  });

  it("delivers an event_id once however often the producer retries it, across restarts of the object", async () => {
    const owner = uniqueId("alice");
    const job = await createJob(owner);
    const socket = await connect(`/v1/ws/job/${job}`, { token: await mintToken(owner) });
    await socket.next("connected");
    const first = await produceOk<any>(`/v1/jobs/${job}/events`, { event_id: "evt-1", progress: 10 });
    const { evictDurableObject } = await import("cloudflare:test");
    const { env } = await import("cloudflare:workers");
    await evictDurableObject(env.JOB_HUB.getByName(job));
    const again = await produceOk<any>(`/v1/jobs/${job}/events`, { event_id: "evt-1", progress: 10 });
    expect(again).toMatchObject({ seq: first.seq, duplicate: true });
    await produceOk(`/v1/jobs/${job}/events`, { event_id: "evt-2", progress: 20 });
    // The socket was evicted along with the object; a fresh one resumes from seq 1.
    const resumed = await connect(`/v1/ws/job/${job}`, { token: await mintToken(owner), query: { since: 0 } });
    const frames = await resumed.take(4);
    expect(frames.map((f) => [f.type, f.data?.snapshot?.progress ?? f.data?.progress])).toEqual([
      ["connected", 20],
      ["job:created", 0],
      ["job:update", 10],
      ["job:update", 20],
    ]);
    resumed.hangUp();
  });

  it("is idempotent on create: same body 200, different body 409", async () => {
    const id = uniqueId("job");
    const body = { id, owner: "alice", title: "Import", viewers: ["bob"] };
    const first = await produce("/v1/jobs", body);
    expect(first.status).toBe(201);
    const again = await produce("/v1/jobs", { title: "Import", viewers: ["bob"], owner: "alice", id });
    expect(again.status).toBe(200);
    expect((await again.json<any>()).seq).toBe(1);
    const clash = await produce("/v1/jobs", { ...body, title: "Export" });
    expect(clash.status).toBe(409);
    expect((await clash.json<any>()).error.code).toBe("conflict");
  });

  it("creates a job with a generated id when none is given", async () => {
    const res = await produce("/v1/jobs", { owner: "alice" });
    expect(res.status).toBe(201);
    expect((await res.json<any>()).id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("lets the owner cancel from the socket, and tells the producer on its next post", async () => {
    const owner = uniqueId("alice");
    const viewer = uniqueId("bob");
    const job = await createJob(owner, { viewers: [viewer] });
    const ownerSocket = await connect(`/v1/ws/job/${job}`, { token: await mintToken(owner) });
    const viewerSocket = await connect(`/v1/ws/job/${job}`, { token: await mintToken(viewer) });
    await ownerSocket.next("connected");
    await viewerSocket.next("connected");

    const refused = await viewerSocket.request({ type: "cancel" });
    expect(refused).toMatchObject({ type: "error", data: { code: "forbidden" } });

    const ack = await ownerSocket.request({ type: "cancel" });
    expect(ack.type).toBe("ack");
    expect((await viewerSocket.next("job:update")).data.cancel_requested).toBe(true);

    const res = await produceOk<any>(`/v1/jobs/${job}/events`, { progress: 60 });
    expect(res.cancel_requested).toBe(true);
    await produceOk(`/v1/jobs/${job}/events`, { status: "cancelled" });
    expect((await ownerSocket.next("job:cancelled")).data.cancel_requested).toBe(true);
    ownerSocket.hangUp();
    viewerSocket.hangUp();
  });

  it("serves GET /v1/jobs/:id to producers, the owner and viewers, and 404 to anyone else (as if it did not exist)", async () => {
    const owner = uniqueId("alice");
    const job = await createJob(owner, { viewers: ["bob"] });
    const asProducer = await produceOk<any>(`/v1/jobs/${job}`, undefined, { method: "GET" });
    expect(asProducer).toMatchObject({ id: job, owner, viewers: ["bob"] });

    const asOwner = await call(`/v1/jobs/${job}`, { headers: { Authorization: `Bearer ${await mintToken(owner)}` } });
    expect(asOwner.status).toBe(200);
    expect(await asOwner.json<any>()).not.toHaveProperty("viewers");
    const asViewer = await call(`/v1/jobs/${job}`, { headers: { Authorization: `Bearer ${await mintToken("bob")}` } });
    expect(asViewer.status).toBe(200);
    const asStranger = await call(`/v1/jobs/${job}`, { headers: { Authorization: `Bearer ${await mintToken("mallory")}` } });
    expect(asStranger.status).toBe(404);
    expect((await asStranger.json<any>()).error).toEqual({ code: "not_found", message: "job not found" });
    const missing = await produce(`/v1/jobs/${uniqueId("nope")}`, undefined, { method: "GET" });
    expect(missing.status).toBe(404);
  });

  it("answers updates for an unknown job with 404 and a socket to it with 4004", async () => {
    const id = uniqueId("ghost");
    const res = await produce(`/v1/jobs/${id}/events`, { progress: 1 });
    expect(res.status).toBe(404);
    const socket = await connect(`/v1/ws/job/${id}`, { token: await mintToken("alice") });
    expect((await socket.closed()).code).toBe(4004);
  });

  it("answers a bare JSON ping with pong and keeps the socket", async () => {
    const owner = uniqueId("alice");
    const job = await createJob(owner);
    const socket = await connect(`/v1/ws/job/${job}`, { token: await mintToken(owner) });
    await socket.next("connected");
    socket.send('{"type":"ping"}');
    expect((await socket.next()).type).toBe("pong");
    socket.send({ type: "ping", ref: 7 });
    expect((await socket.next()).type).toBe("pong");
    socket.hangUp();
  });
});
