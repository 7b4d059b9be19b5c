import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { shardIndex } from "../../src/shards";
import { statsShardName } from "../../src/stats/totals";
import { installClock } from "./clock";
import { call, connect, createJob, mintToken, produce, produceOk, uniqueId } from "./helpers";
import { eventually } from "./people";

const SHARDS = Number(env.STATS_SHARDS);
const METRICS_TOKEN = env.METRICS_TOKEN as string;

/** Channel rows each stats shard holds, read straight from its storage. */
async function channelsByShard(): Promise<Set<string>[]> {
  return Promise.all(
    Array.from({ length: SHARDS }, (_, i) =>
      runInDurableObject(env.STATS_SHARD.getByName(statsShardName(i)), (_o, state) => {
        const rows = state.storage.sql.exec<{ channel: string }>("SELECT DISTINCT channel FROM parts").toArray();
        return new Set(rows.map((r) => r.channel));
      }),
    ),
  );
}

const readStats = () => produceOk<any>("/v1/stats", undefined, { method: "GET" });

describe("stats shards", () => {
  it("sends each channel's reports to one shard by hash, and no shard takes more than twice its share", async () => {
    const before = (await readStats()).stats_shards.reports as number[];
    expect(before).toHaveLength(SHARDS);
    const owner = uniqueId("alice");
    const jobs: string[] = [];
    // Each creation reports at once.
    jobs.push(...(await Promise.all(Array.from({ length: 64 }, () => createJob(owner)))));
    const after = await eventually(async () => {
      const reports = (await readStats()).stats_shards.reports as number[];
      const added = reports.reduce((a, n, i) => a + n - (before[i] ?? 0), 0);
      if (added < jobs.length) throw new Error(`only ${added} of ${jobs.length} reports arrived`);
      return reports;
    });
    const added = after.map((n, i) => n - (before[i] ?? 0));
    const even = jobs.length / SHARDS;
    for (const n of added) expect(n, `reports per shard: ${added.join(", ")}`).toBeLessThanOrEqual(2 * even);

    const held = await channelsByShard();
    for (const job of jobs) {
      const holders = held.flatMap((set, i) => (set.has(`job:${job}`) ? [i] : []));
      expect(holders, `shards holding job:${job}`).toEqual([shardIndex(`job:${job}`, SHARDS)]);
    }
  });

  it("sums every shard into GET /v1/stats: sockets, counters and the busiest channel", async () => {
    const owner = uniqueId("alice");
    const token = await mintToken(owner);
    const busy = uniqueId("busy");
    const quiet = uniqueId("quiet");
    const stub = env.JOB_HUB.getByName(busy);
    // Both on one clock: a shard drops rows older than 10 minutes by its reporters' time.
    const clock = await installClock([stub, env.JOB_HUB.getByName(quiet)]);
    await createJob(owner, { id: busy });
    await createJob(owner, { id: quiet });
    const sockets = [];
    for (let i = 0; i < 3; i++) sockets.push(await connect(`/v1/ws/job/${busy}`, { token }));
    sockets.push(await connect(`/v1/ws/job/${quiet}`, { token }));
    for (const s of sockets) await s.next("connected");
    // The 2nd and 3rd sockets are held back by coalescing: the hub's alarm sends them.
    clock.advance(5_000);
    await runDurableObjectAlarm(stub);
    const stats = await eventually(async () => {
      const s = await readStats();
      const top = s.top_channels.find((c: any) => c.channel === `job:${busy}`);
      const other = s.top_channels.find((c: any) => c.channel === `job:${quiet}`);
      if (top?.open_sockets !== 3 || other?.open_sockets !== 1) throw new Error(`not reported yet: ${JSON.stringify(s.top_channels)}`);
      return s;
    });
    expect(stats.open_sockets.job).toBeGreaterThanOrEqual(4);
    expect(stats.open_sockets.total).toBe(
      stats.open_sockets.user + stats.open_sockets.job + stats.open_sockets.room + stats.open_sockets.batch,
    );
    const top = stats.top_channels.map((c: any) => c.channel);
    expect(top.indexOf(`job:${busy}`)).toBeLessThan(top.indexOf(`job:${quiet}`));
    for (const s of sockets) s.hangUp();
  });

  it("reports a quiet channel's heartbeats only when something changed", async () => {
    const owner = uniqueId("alice");
    const job = uniqueId("quiet");
    const stub = env.JOB_HUB.getByName(job);
    const clock = await installClock([stub]);
    await createJob(owner, { id: job });
    const socket = await connect(`/v1/ws/job/${job}`, { token: await mintToken(owner) });
    await socket.next("connected");
    const shard = shardIndex(`job:${job}`, SHARDS);
    const reportsOf = async () => ((await readStats()).stats_shards.reports as number[])[shard] as number;
    clock.advance(5_000);
    await runDurableObjectAlarm(stub); // flushes what the socket's arrival held back
    const settled = await eventually(async () => {
      const first = await reportsOf();
      await new Promise((r) => setTimeout(r, 100));
      if ((await reportsOf()) !== first) throw new Error("reports still arriving");
      return first;
    });
    // A heartbeat with nothing new: no report.
    clock.advance(30_000);
    await runDurableObjectAlarm(stub);
    await socket.next("heartbeat");
    await new Promise((r) => setTimeout(r, 300)); // room for a wrong report to land
    expect(await reportsOf()).toBe(settled);
    // An event since: the next heartbeat reports it.
    await produceOk(`/v1/jobs/${job}/events`, { progress: 5 });
    await eventually(async () => {
      if ((await reportsOf()) === settled) throw new Error("the event's report has not arrived");
    });
    socket.hangUp();
  });

  it("keeps no counts for channels nobody created: a stranger's probes add nothing", async () => {
    const stranger = await mintToken(uniqueId("mallory"));
    const ghosts = [`job:${uniqueId("nojob")}`, `room:${uniqueId("noroom")}`, `batch:${uniqueId("nobatch")}`];
    for (const channel of ghosts) {
      const [kind, id] = channel.split(/:(.*)/s) as [string, string];
      const socket = await connect(`/v1/ws/${kind}/${id}`, { token: stranger });
      expect((await socket.closed()).code).toBeGreaterThanOrEqual(4003);
    }
    // A real channel reported after the probes: once it is in, the probes would be too.
    const marker = await createJob(uniqueId("alice"));
    await eventually(async () => {
      if (!(await channelsByShard()).some((set) => set.has(`job:${marker}`))) throw new Error("marker not reported yet");
    });
    const held = await channelsByShard();
    for (const channel of ghosts)
      expect(
        held.some((set) => set.has(channel)),
        channel,
      ).toBe(false);
  });
});

describe("GET /metrics", () => {
  it("answers Prometheus text to a producer key or METRICS_TOKEN, with the same totals as /v1/stats", async () => {
    const job = await createJob(uniqueId("alice"));
    await produceOk(`/v1/jobs/${job}/events`, { progress: 10 });
    for (const key of [METRICS_TOKEN, "test_producer_key_primary_0123456789"]) {
      const res = await call("/metrics", { headers: { Authorization: `Bearer ${key}` } });
      expect(res.status).toBe(200);
      expect(res.headers.get("Content-Type")).toContain("text/plain; version=0.0.4");
      const text = await res.text();
      // Every line is a comment or `name{labels} value`.
      for (const line of text.trimEnd().split("\n")) {
        expect(line).toMatch(/^(# (HELP|TYPE) [a-z_]+ .+|[a-z_]+(\{[a-z_]+="[^"\n]*"\})? -?\d+(\.\d+)?)$/);
      }
      expect(text).toContain("# TYPE dovetail_published_total counter");
      expect(text).toMatch(/^dovetail_open_sockets\{kind="job"\} \d+$/m);
      const reports = [...text.matchAll(/^dovetail_stats_shard_reports_total\{shard="(\d+)"\} (\d+)$/gm)];
      expect(reports.map((m) => m[1])).toEqual(Array.from({ length: SHARDS }, (_, i) => String(i)));
      const published = Number(/^dovetail_published_total (\d+)$/m.exec(text)?.[1]);
      expect(published).toBeGreaterThanOrEqual(1);
      expect(published).toBeLessThanOrEqual((await readStats()).since_start.published);
    }
  });

  it("refuses anyone else with 401", async () => {
    expect((await call("/metrics")).status).toBe(401);
    const user = await call("/metrics", { headers: { Authorization: `Bearer ${await mintToken("alice")}` } });
    expect(user.status).toBe(401);
    expect((await user.json<any>()).error.code).toBe("unauthorized");
    const wrong = await produce("/metrics", undefined, { method: "GET", key: `${METRICS_TOKEN}x` });
    expect(wrong.status).toBe(401);
  });
});
