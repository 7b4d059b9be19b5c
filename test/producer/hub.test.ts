// The TypeScript producer SDK against the real worker: a job's whole life, a
// notification, a bulk publish, and a real webhook verified with the SDK's verifier.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateSecret, Producer, ProducerError, verifyWebhook, WebhookVerificationError } from "../../packages/producer/src/index.js";
import { RecordingSocket } from "../e2e/client-socket";
import { E2E_PRODUCER_KEY, type RunningHub, startHub } from "../e2e/harness";
import { type Receiver, startReceiver } from "../e2e/receiver";

const SECRET = generateSecret();
let hub: RunningHub;
let receiver: Receiver;
let producer: Producer;
const unique = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 7)}`;

beforeAll(async () => {
  receiver = await startReceiver(SECRET);
  hub = await startHub({ vars: { DEV_MODE: "1", WEBHOOK_URL: receiver.url, WEBHOOK_SECRET: SECRET, WEBHOOK_RETRY_BASE_MS: "50" } });
  producer = new Producer({ url: hub.url.origin, key: E2E_PRODUCER_KEY });
});
afterAll(async () => {
  await hub?.stop();
  await receiver?.close();
});

async function watch(path: string, user: string): Promise<RecordingSocket> {
  const socket = new RecordingSocket(
    (r) => hub.wsUrl(`${path}${path.includes("?") ? "&" : "?"}${r}`),
    ["dovetail.v1", `bearer.${await hub.token(user)}`],
  );
  await socket.open();
  return socket;
}

describe("the TypeScript producer SDK on a real hub", () => {
  it("runs a job from creation to completion, and learns of a cancel from its next update", async () => {
    const owner = unique("alice");
    const job = await producer.jobs.create({ owner, title: "Render video" });
    expect(job).toMatchObject({ owner, status: "queued", progress: 0 });
    expect(await producer.jobs.create({ id: job.id, owner, title: "Render video" })).toMatchObject({ id: job.id });
    const socket = await watch(`/v1/ws/job/${job.id}`, owner);

    const running = await producer.jobs.update(job.id, { status: "running", progress: 40, stage: "encoding" });
    expect(running).toMatchObject({ cancel_requested: false, state: { status: "running", progress: 40 } });
    const again = await producer.jobs.update(job.id, { status: "running", progress: 40, event_id: "same" });
    expect((await producer.jobs.update(job.id, { status: "running", progress: 40, event_id: "same" })).duplicate).toBe(true);
    expect(again.duplicate).toBeUndefined();

    socket.ws.send(JSON.stringify({ type: "cancel", ref: "c1" }));
    await socket.until(() => socket.frames.find((f) => f.type === "ack" && f.data.ref === "c1"), "the cancel ack");
    const next = await producer.jobs.update(job.id, { progress: 60 });
    expect(next.cancel_requested).toBe(true);
    const ended = await producer.jobs.cancelled(job.id, "stopped by the user");
    expect(ended.state).toMatchObject({ status: "cancelled", message: "stopped by the user" });
    await socket.until(() => socket.frames.find((f) => f.type === "job:cancelled"), "job:cancelled");
    socket.ws.close();

    const done = await producer.jobs.create({ owner });
    expect((await producer.jobs.complete(done.id, { url: "https://cdn.example.com/x.mp4" })).state).toMatchObject({
      status: "completed",
      progress: 100,
    });
    const failed = await producer.jobs.create({ owner });
    expect((await producer.jobs.fail(failed.id, { code: "gpu_oom", message: "out of memory" })).state.error).toEqual({
      code: "gpu_oom",
      message: "out of memory",
    });
    expect(await producer.jobs.get(failed.id)).toMatchObject({ status: "failed" });
    const late = await producer.jobs.update(failed.id, { progress: 99 }).catch((e: unknown) => e);
    expect(late).toBeInstanceOf(ProducerError);
    expect(late).toMatchObject({ code: "job_finished", status: 409 });
  });

  it("moves many jobs in one bulk request, with a result per item and the single route's rules", async () => {
    const owner = unique("erin");
    const [a, b] = [await producer.jobs.create({ owner }), await producer.jobs.create({ owner })];
    const socket = await watch(`/v1/ws/job/${a.id}`, owner);
    const answer = await producer.jobs.bulk([
      { job: a.id, status: "running", progress: 30 },
      { job: b.id, status: "completed", result: { ok: true } },
      { job: a.id, progress: 60, event_id: "a-60" },
      { job: b.id, progress: 10 },
      { job: a.id, progress: 60, event_id: "a-60" },
    ]);
    expect(answer).toMatchObject({ applied: 4, failed: 1 });
    expect(answer.results.map((r) => (r.ok ? [r.job, r.seq, r.status] : [r.job, r.error.code]))).toEqual([
      [a.id, 2, "running"],
      [b.id, 2, "completed"],
      [a.id, 3, "running"],
      [b.id, "job_finished"],
      [a.id, 3, "running"],
    ]);
    expect(answer.results[4]).toMatchObject({ duplicate: true });
    await socket.until(() => socket.frames.find((f) => f.type === "job:update" && f.data.progress === 60), "the bulk update");
    expect(socket.frames.filter((f) => f.type === "job:update").map((f) => f.data.progress)).toEqual([30, 60]);
    expect(await producer.jobs.get(b.id)).toMatchObject({ status: "completed", result: { ok: true } });
    socket.ws.close();
  });

  it("notifies a user once however often it is retried, and publishes in bulk with a result per item", async () => {
    const user = unique("bob");
    const socket = await watch("/v1/ws/user", user);
    const first = await producer.notify(user, { id: unique("n"), kind: "like", title: "Ann liked your post" });
    const repeat = await producer.notify(user, { id: first.notification.id, kind: "like", title: "Ann liked your post" });
    expect(repeat).toMatchObject({ duplicate: true, seq: first.seq });
    await socket.until(() => socket.frames.find((f) => f.type === "notification"), "the notification");

    const room = unique("room");
    await producer.rooms.configure(room, { visibility: "public" });
    const answer = await producer.publish([
      { channel: `user:${user}`, type: "campaign:launched", data: { id: 123 } },
      { channel: `room:${room}`, type: "stats:updated", data: { sent: 5000 } },
      { channel: `user:${user}`, type: "BAD TYPE", data: {} },
    ]);
    expect(answer).toMatchObject({ delivered: 2, failed: 1 });
    expect(answer.results[2]).toMatchObject({ ok: false, error: { code: "validation_failed" } });
    await socket.until(() => socket.frames.find((f) => f.type === "campaign:launched"), "the bulk item");
    expect(await producer.users.publish(user, "like:updated", { likes: 3 })).toMatchObject({ seq: expect.any(Number) });
    expect((await producer.users.presence(user)).online).toBe(true);
    socket.ws.close();
  });

  it("creates, appends to, reads and deletes a Durable Stream, a retried append landing once", async () => {
    const path = `sdk/${unique("stream")}/log`;
    expect(await producer.streams.create(path, { contentType: "text/plain" })).toMatchObject({
      contentType: expect.stringContaining("text/plain"),
    });
    await producer.streams.append(path, "hello ");
    const tail = await producer.streams.append(path, "world");
    const chunk = await producer.streams.read(path);
    expect(chunk).toMatchObject({ data: "hello world", upToDate: true, nextOffset: tail });
    expect((await producer.streams.read(path, { offset: tail })).data).toBe("");
    expect((await producer.streams.head(path))?.nextOffset).toBe(tail);
    await producer.streams.delete(path);
    expect(await producer.streams.head(path)).toBeNull();
  });

  it("creates a job with an output stream, appends to it, and the job's end closes it", async () => {
    const owner = unique("alice");
    const job = await producer.jobs.create({ owner, output: { content_type: "text/plain" } });
    expect(job.output).toMatchObject({ path: `jobs/${job.id}/output`, content_type: "text/plain", closed: false });
    const path = job.output?.path as string;
    await producer.streams.append(path, "tokens ", { contentType: "text/plain" });
    const tail = await producer.streams.append(path, "so far", { contentType: "text/plain" });
    expect((await producer.streams.read(path)).data).toBe("tokens so far");
    await producer.jobs.update(job.id, { status: "completed" });
    const closed = async () =>
      (await fetch(`${hub.url.origin}/v1/stream/${path}`, { method: "HEAD", headers: { Authorization: `Bearer ${E2E_PRODUCER_KEY}` } }))
        .headers;
    for (let i = 0; i < 100 && (await closed()).get("Stream-Closed") !== "true"; i++) await new Promise((r) => setTimeout(r, 50));
    expect((await closed()).get("Stream-Closed")).toBe("true");
    expect((await closed()).get("Stream-Next-Offset")).toBe(tail);
  });

  it("verifies a real webhook from the hub with the SDK's verifier, and refuses a tampered one", async () => {
    const room = unique("hooks");
    await producer.rooms.configure(room, { visibility: "public" });
    const socket = await watch(`/v1/ws/room/${room}`, "carol");
    socket.ws.send(JSON.stringify({ type: "emit", event: "log_event", data: { level: "info" }, ref: "e1" }));
    const [hook] = await receiver.until(
      "the client.event",
      () => receiver.delivered(`room:${room}`, "client.event").length > 0 && receiver.delivered(`room:${room}`, "client.event"),
    );
    const payload = await verifyWebhook(hook!.body, hook!.headers, SECRET);
    expect(payload).toMatchObject({ type: "client.event", channel: `room:${room}`, data: { event: "log_event", user: { id: "carol" } } });
    // Secrets rotate: any one of several may match.
    expect(await verifyWebhook(hook!.body, hook!.headers, [generateSecret(), SECRET])).toEqual(payload);
    const tampered = await verifyWebhook(hook!.body.replace("info", "warn"), hook!.headers, SECRET).catch((e: unknown) => e);
    expect(tampered).toBeInstanceOf(WebhookVerificationError);
    expect(tampered).toMatchObject({ code: "no_matching_signature" });
    socket.ws.close();
  });
});
