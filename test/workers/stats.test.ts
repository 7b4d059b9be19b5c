import { runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { installClock, timerNames } from "./clock";
import { call, connect, createJob, jobWithSockets, mintToken, produce, produceOk, uniqueId } from "./helpers";
import { eventually } from "./people";

/** Reads until `ok` holds, on top of the shared `eventually` (which retries a throwing check). */
function readUntil<T>(read: () => Promise<T>, ok: (value: T) => boolean, what: string): Promise<T> {
  return eventually(async () => {
    const value = await read();
    if (!ok(value)) throw new Error(`still waiting for ${what}; last: ${JSON.stringify(value)}`);
    return value;
  });
}

describe("stats", () => {
  it("counts one channel's sockets, events and deliveries exactly", async () => {
    const {
      job,
      sockets: [a, b],
    } = await jobWithSockets(2);
    for (let p = 1; p <= 3; p++) await produceOk(`/v1/jobs/${job}/events`, { progress: p });
    await a.take(3);
    a.send({ type: "bogus" });
    await a.next("error");

    const stats = await produceOk<any>(`/v1/jobs/${job}/stats`, undefined, { method: "GET" });
    expect(stats).toMatchObject({ channel: `job:${job}`, open_sockets: 2, seq: 4 });
    // job:created reached nobody; each of 3 updates reached both sockets.
    expect(stats.counters).toMatchObject({ published: 4, delivered: 6, connects: 2, errors: 1, closes: 0 });
    a.hangUp();
    b.hangUp();
  });

  it("counts a socket the hub closes itself once, though the runtime reports its close again", async () => {
    const {
      job,
      sockets: [flooder],
    } = await jobWithSockets(1);
    for (let i = 0; i < 200; i++) flooder!.send({ type: "ping", ref: i });
    expect((await flooder!.closed()).code).toBe(4008);
    // The client's close echo reaches webSocketClose after the hub's own dropSocket.
    const stats = await readUntil(
      () => produceOk<any>(`/v1/jobs/${job}/stats`, undefined, { method: "GET" }),
      (s) => s.open_sockets === 0 && s.counters.closes >= 1,
      "the close to be counted",
    );
    await new Promise((r) => setTimeout(r, 200)); // room for a second, wrong count to land
    const again = await produceOk<any>(`/v1/jobs/${job}/stats`, undefined, { method: "GET" });
    expect(again.counters.closes).toBe(1);
    expect(stats.counters.connects).toBe(1);
  });

  it("keeps live totals across channels, reported without a call per event", async () => {
    const owner = uniqueId("alice");
    const token = await mintToken(owner);
    const jobs = [await createJob(owner), await createJob(owner)];
    const sockets = await Promise.all(jobs.map((job) => connect(`/v1/ws/job/${job}`, { token })));
    for (const s of sockets) await s.next("connected");
    const during = await readUntil(
      () => produceOk<any>("/v1/stats", undefined, { method: "GET" }),
      (s) => s.open_sockets.job >= 2,
      "two open job sockets",
    );
    expect(during.open_sockets.total).toBeGreaterThanOrEqual(2);
    expect(during.active_channels).toBeGreaterThanOrEqual(2);

    for (const job of jobs) await produceOk(`/v1/jobs/${job}/events`, { progress: 50 });
    for (const s of sockets) {
      await s.next("job:update");
      s.hangUp();
    }
    // The last socket of each channel leaving forces a report: nothing stays pending.
    const after = await readUntil(
      () => produceOk<any>("/v1/stats", undefined, { method: "GET" }),
      (s) => s.open_sockets.job === 0 && s.since_start.delivered >= 2,
      "sockets closed and deliveries counted",
    );
    expect(after.since_start.published).toBeGreaterThanOrEqual(4);
    expect(after.last_minute.delivered).toBeGreaterThanOrEqual(2);
    expect(Date.parse(after.since)).toBeLessThanOrEqual(Date.now());
  });

  it("flushes counts held back by coalescing from the alarm, with no further activity", async () => {
    const id = uniqueId("job");
    const stub = env.JOB_HUB.getByName(id);
    const clock = await installClock([stub]);
    await createJob(uniqueId("alice"), { id }); // the hub's first report goes at once
    for (let p = 1; p <= 3; p++) await produceOk(`/v1/jobs/${id}/events`, { progress: p }); // held back
    const read = () => produceOk<any>("/v1/stats", undefined, { method: "GET" });
    const before = (await read()).since_start.published;
    expect(await timerNames(stub)).toContain("stats");

    clock.advance(5_000);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const after = await readUntil(read, (s) => s.since_start.published >= before + 3, "the held-back events");
    expect(after.since_start.published).toBeGreaterThanOrEqual(before + 3);
    expect(await timerNames(stub)).not.toContain("stats");
  });

  it("is for producers only, and 404 for a channel never used", async () => {
    expect((await call("/v1/stats", { headers: { Authorization: `Bearer ${await mintToken("alice")}` } })).status).toBe(401);
    expect((await produce(`/v1/jobs/${uniqueId("none")}/stats`, undefined, { method: "GET" })).status).toBe(404);
    expect((await produce("/v1/planets/x/stats", undefined, { method: "GET" })).status).toBe(404);
  });
});
