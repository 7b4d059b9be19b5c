import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { installClock } from "./clock";
import { type Fault, failRpc } from "./faults";
import { call, connect, createJob, mintToken, produce, produceOk, uniqueId } from "./helpers";

describe("a ticket around its expiry", () => {
  it("is not redeemed a second time when the user's hub already counts it as expired but the Worker does not", async () => {
    const owner = uniqueId("alice");
    const job = await createJob(owner);
    const res = await call("/v1/tickets", { method: "POST", headers: { Authorization: `Bearer ${await mintToken(owner)}` } });
    const { ticket, expires_at } = await res.json<{ ticket: string; expires_at: string }>();
    const first = await connect(`/v1/ws/job/${job}`, { query: { ticket } });
    await first.next("connected");
    // The hub's clock runs a little ahead of the Worker's: by it, the ticket has expired
    // and its row may be forgotten; the Worker still finds the ticket valid.
    await installClock([env.USER_HUB.getByName(owner)], Date.parse(expires_at) + 1);
    const second = await connect(`/v1/ws/job/${job}`, { query: { ticket } });
    expect((await second.closed()).code).toBe(4001);
    first.hangUp();
  });
});

describe("notification ids", () => {
  it("are remembered like any event_id: a retry after the notification left the inbox is still a duplicate", async () => {
    const user = uniqueId("alice");
    const first = await produce(`/v1/users/${user}/notifications`, { id: "like-1", kind: "like", title: "Bob liked your post" });
    expect(first.status).toBe(201);
    const { seq } = await first.json<{ seq: number }>();
    // INBOX_MAX is 5 in the tests: six more push it out.
    for (let i = 2; i <= 7; i++) await produceOk(`/v1/users/${user}/notifications`, { id: `like-${i}`, kind: "like" });
    const retry = await produce(`/v1/users/${user}/notifications`, { id: "like-1", kind: "like", title: "Bob liked your post" });
    expect(retry.status).toBe(200);
    expect(await retry.json()).toMatchObject({ seq, duplicate: true, notification: { id: "like-1" } });
    const inbox = await call("/v1/me/notifications", { headers: { Authorization: `Bearer ${await mintToken(user)}` } });
    const { notifications } = await inbox.json<{ notifications: { id: string }[] }>();
    expect(notifications.map((n) => n.id)).not.toContain("like-1");
  });
});

type Report = { channel: string; openSockets: number; delta: { published: number } };

/** The reports a hub sent to its stats shard that went through. */
const delivered = (fault: Fault) => fault.log.filter((c) => !c.failed).map((c) => c.args[0] as Report);
const published = (fault: Fault) => delivered(fault).reduce((n, r) => n + r.delta.published, 0);

describe("stats deltas", () => {
  it("survive a failed report: the next one carries them", async () => {
    const job = uniqueId("job");
    const stub = env.JOB_HUB.getByName(job);
    const clock = await installClock([stub]);
    const reports = await failRpc(stub, "STATS_SHARD", "report", { times: 1 });
    await createJob("alice", { id: job }); // job:created, reported at once: that report fails
    for (let i = 1; i <= 3; i++) await produceOk(`/v1/jobs/${job}/events`, { progress: i * 10 });
    clock.advance(6_000);
    await runDurableObjectAlarm(stub); // the held-back deltas go out
    await until("the reports to arrive", () => published(reports) === 4);
  });

  it("survive an eviction while held back", async () => {
    const job = uniqueId("job");
    const stub = env.JOB_HUB.getByName(job);
    let clock = await installClock([stub]);
    const before = await failRpc(stub, "STATS_SHARD", "report", { times: 0 });
    await createJob("alice", { id: job });
    for (let i = 1; i <= 3; i++) await produceOk(`/v1/jobs/${job}/events`, { progress: i * 10 });
    await until("the first report", () => published(before) === 1);
    await evictDurableObject(stub);
    clock = await installClock([stub], clock.now + 6_000);
    const afterEviction = await failRpc(stub, "STATS_SHARD", "report", { times: 0 });
    await runDurableObjectAlarm(stub);
    await until("the held-back deltas", () => published(afterEviction) === 3);
  });
});

describe("sockets dropped by a restart", () => {
  it("are reported gone by the next heartbeat, though none is left to beat", async () => {
    const owner = uniqueId("alice");
    const job = uniqueId("job");
    let clock = await installClock([env.JOB_HUB.getByName(job)]);
    await createJob(owner, { id: job });
    const sockets = [];
    for (let i = 0; i < 2; i++) {
      sockets.push(await connect(`/v1/ws/job/${job}`, { token: await mintToken(owner) }));
      await sockets[i]?.next("connected");
    }
    clock.advance(6_000);
    await runDurableObjectAlarm(env.JOB_HUB.getByName(job)); // held-back counters go out; nothing else is pending but the heartbeat
    // A restart (a deploy, a crash) drops the sockets without running any close handler.
    await runInDurableObject(env.JOB_HUB.getByName(job), (_instance, state) => state.abort("restart")).catch(() => {});
    for (const socket of sockets) await socket.closed();
    const stub = env.JOB_HUB.getByName(job);
    clock = await installClock([stub], clock.now);
    const reports = await failRpc(stub, "STATS_SHARD", "report", { times: 0 });
    clock.advance(60_000);
    await runDurableObjectAlarm(stub);
    await until("a report of no open socket", () => delivered(reports).find((r) => r.channel === `job:${job}` && r.openSockets === 0));
  });
});

async function until<T>(what: string, check: () => T | undefined | false, timeoutMs = 3_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
