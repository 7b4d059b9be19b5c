// What one publish (and one join) costs in storage: the statements it runs, counted inside the object.
// Anything more than the listed statements is a regression of the publish path; what the
// savings rely on (memory copies of small tables, old event_ids forgotten hourly) is
// checked here too.
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { installClock } from "./clock";
import { createJob, produceOk, uniqueId } from "./helpers";
import { count, eventually, hangUpAll, join, person, publicRoom } from "./people";

const DAY = 86_400_000;

/** A running job's update: the watchdog moved, the job's view saved, the event logged (its row carries the delivery counts), rows past the retention bound dropped. */
const PLAIN_UPDATE = ["INSERT INTO timers", "INSERT INTO job", "INSERT INTO events", "DELETE FROM events"];

/** Counts the SQL statements the object runs from now on (their first three words); read them with the answer. */
async function countStatements(stub: DurableObjectStub<Rpc.DurableObjectBranded>): Promise<() => Promise<string[]>> {
  await runInDurableObject(stub, (_instance, state) => {
    const sql = state.storage.sql as SqlStorage & { seen?: string[] };
    const exec = sql.exec.bind(sql);
    sql.seen = [];
    sql.exec = ((query: string, ...bindings: unknown[]) => {
      sql.seen?.push(query.split(" ").slice(0, 3).join(" "));
      return exec(query, ...bindings);
    }) as SqlStorage["exec"];
  });
  return () =>
    runInDurableObject(stub, (_instance, state) => {
      const sql = state.storage.sql as SqlStorage & { seen?: string[] };
      const seen = sql.seen ?? [];
      sql.seen = [];
      return seen;
    });
}

describe("the cost of a publish", () => {
  it("is a fixed handful of statements for a job update, whatever timers are pending", async () => {
    const job = await createJob(uniqueId("alice"), { stall_timeout_s: 60 });
    // Warm: the object's caches loaded, and its hourly forgetting of old event_ids done.
    await produceOk(`/v1/jobs/${job}/events`, { status: "running", progress: 1, event_id: "e-1" });
    const counted = await countStatements(env.JOB_HUB.getByName(job));

    for (let i = 2; i <= 4; i++) await produceOk(`/v1/jobs/${job}/events`, { progress: i, data: { frame: i } });
    expect(await counted()).toEqual(Array(3).fill(PLAIN_UPDATE).flat());

    await produceOk(`/v1/jobs/${job}/events`, { progress: 6, event_id: "e-6" });
    expect(await counted()).toEqual(["SELECT response FROM", ...PLAIN_UPDATE, "INSERT INTO event_ids"]);
  });

  it("is the same per item of a bulk request, each job's object called once", async () => {
    const jobs = [await createJob(uniqueId("alice")), await createJob(uniqueId("bob"))];
    await produceOk(
      "/v1/jobs/events",
      jobs.map((job) => ({ job, status: "running" })),
    );
    const counters = await Promise.all(jobs.map((job) => countStatements(env.JOB_HUB.getByName(job))));
    await produceOk("/v1/jobs/events", [
      { job: jobs[0], progress: 10 },
      { job: jobs[1], progress: 10 },
      { job: jobs[0], progress: 20 },
    ]);
    // No watchdog on these jobs: the view, the event row and the retention bound, per update.
    const update = ["INSERT INTO job", "INSERT INTO events", "DELETE FROM events"];
    expect(await counters[0]?.()).toEqual([...update, ...update]);
    expect(await counters[1]?.()).toEqual(update);
  });

  it("remembers an event_id for 7 days and forgets it after, though old ids are dropped only hourly", async () => {
    const job = uniqueId("job");
    const clock = await installClock([env.JOB_HUB.getByName(job)]);
    await createJob(uniqueId("alice"), { id: job });
    const first = await produceOk<any>(`/v1/jobs/${job}/events`, { status: "running", progress: 1, event_id: "e-1" });
    clock.advance(6 * DAY);
    expect(await produceOk(`/v1/jobs/${job}/events`, { progress: 1, event_id: "e-1" })).toMatchObject({ seq: first.seq, duplicate: true });
    clock.advance(2 * DAY);
    await produceOk(`/v1/jobs/${job}/events`, { progress: 2, event_id: "e-2" }); // the hourly forgetting runs here
    const again = await produceOk<any>(`/v1/jobs/${job}/events`, { progress: 3, event_id: "e-1" });
    expect(again.duplicate).toBeUndefined();
    expect(again.seq).toBe(first.seq + 2);
  });
});

describe("the cost of a join", () => {
  it("reads the room's announced members once per object instance, not on every join", async () => {
    const room = await publicRoom();
    const first = await join(`/v1/ws/room/${room}`, await person("Ann"));
    const counted = await countStatements(env.ROOM_HUB.getByName(room));
    const others = [];
    for (const name of ["Ben", "Cy", "Dee"]) others.push((await join(`/v1/ws/room/${room}`, await person(name))).socket);
    const scans = (await counted()).filter((statement) => statement === "SELECT user_id, name");
    expect(scans).toEqual([]);
    // Each of them was still announced once, to everyone already there.
    await eventually(async () => expect(count(first.socket, "presence:join")).toBe(3));
    await hangUpAll([first.socket, ...others]);
  });
});

describe("the cost of a publish to sockets", () => {
  it("walks the room's sockets once per event, not again for its stats", async () => {
    const room = await publicRoom();
    const ann = (await join(`/v1/ws/room/${room}`, await person("Ann"))).socket;
    const ben = (await join(`/v1/ws/room/${room}`, await person("Ben"))).socket;
    await produceOk(`/v1/rooms/${room}/events`, { type: "like:updated", data: { likes: 1 } }); // the first stats report
    const stub = env.ROOM_HUB.getByName(room);
    await runInDurableObject(stub, (_instance, state) => {
      const walks = state as DurableObjectState & { walks?: number };
      const getWebSockets = state.getWebSockets.bind(state);
      walks.walks = 0;
      state.getWebSockets = (tag?: string) => {
        walks.walks = (walks.walks ?? 0) + 1;
        return getWebSockets(tag);
      };
    });
    for (let likes = 2; likes <= 4; likes++) await produceOk(`/v1/rooms/${room}/events`, { type: "like:updated", data: { likes } });
    const walks = await runInDurableObject(stub, (_instance, state) => (state as DurableObjectState & { walks?: number }).walks);
    expect(walks).toBe(3);
    await eventually(async () => expect(count(ben, "like:updated")).toBe(4));
    await hangUpAll([ann, ben]);
  });
});

describe("the cost of a wake", () => {
  it("brings an up-to-date object's schema up with two statements, however many components it has", async () => {
    const job = await createJob(uniqueId("alice"));
    const stub = env.JOB_HUB.getByName(job);
    const counted = await countStatements(stub);
    // A new instance on the same storage: what a wake from hibernation or an eviction runs.
    await runInDurableObject(stub, (instance, state) => {
      const Hub = instance.constructor as new (ctx: DurableObjectState, env: Env) => unknown;
      new Hub(state, env);
    });
    // Is it stored; the schema's versions, all components at once; the log's epoch.
    expect(await counted()).toEqual(["SELECT 1 FROM", "CREATE TABLE IF", "SELECT component, version", "SELECT value FROM"]);
  });
});
