// Touching ids that were never created costs nothing: no object with storage appears, and
// a stranger cannot tell a job or batch that exists from one that does not.
import { listDurableObjectIds, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, connect, createJob, mintToken, produce, produceOk, uniqueId } from "./helpers";

/** The object's SQLite database size in bytes. */
function sizeOf(stub: DurableObjectStub): Promise<number> {
  return runInDurableObject(stub, (_instance, state) => state.storage.sql.databaseSize);
}

/** Tables in an object's SQLite database: none for an object that never stored anything. */
function tablesOf(stub: DurableObjectStub): Promise<number> {
  return runInDurableObject(
    stub,
    (_instance, state) => state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table'").one().n,
  );
}

describe("no object for nothing", () => {
  it("300 reads and sockets on never-created jobs and batches (and 60 stream reads) answer 404/4004 and store nothing", {
    timeout: 120_000,
  }, async () => {
    const token = await mintToken(uniqueId("mallory"));
    const jobs: string[] = [];
    const batches: string[] = [];
    const streams: string[] = [];
    for (let i = 0; i < 60; i++) {
      const job = uniqueId("ghost-job");
      const batch = uniqueId("ghost-batch");
      jobs.push(job);
      batches.push(batch);
      expect((await call(`/v1/jobs/${job}`, { headers: { Authorization: `Bearer ${token}` } })).status).toBe(404);
      expect((await produce(`/v1/batches/${batch}`, undefined, { method: "GET" })).status).toBe(404);
      expect((await produce(`/v1/jobs/${job}/events`, { progress: 5 })).status).toBe(404);
      expect((await (await connect(`/v1/ws/job/${job}`, { token })).closed()).code).toBe(4004);
      expect((await (await connect(`/v1/ws/batch/${batch}`, { token })).closed()).code).toBe(4004);
      const stream = `jobs/${uniqueId("ghost-stream")}/output`;
      streams.push(stream);
      expect((await produce(`/v1/stream/${stream}?offset=-1`, undefined, { method: "GET" })).status).toBe(404);
    }
    // Locally, every object a request reached is listed, stored or not (workerd opens its
    // SQLite file when the object starts); what matters is that none of them holds anything:
    // each listed ghost is exactly as large as an object that was never asked anything.
    const pristine = await sizeOf(env.JOB_HUB.getByName(uniqueId("pristine")));
    const ghosts = new Map<string, DurableObjectStub>();
    for (const job of jobs) ghosts.set(String(env.JOB_HUB.idFromName(job)), env.JOB_HUB.getByName(job));
    for (const batch of batches) ghosts.set(String(env.BATCH_HUB.idFromName(batch)), env.BATCH_HUB.getByName(batch));
    for (const stream of streams) ghosts.set(String(env.STREAM_HUB.idFromName(stream)), env.STREAM_HUB.getByName(stream));
    const listed = [
      ...(await listDurableObjectIds(env.JOB_HUB)),
      ...(await listDurableObjectIds(env.BATCH_HUB)),
      ...(await listDurableObjectIds(env.STREAM_HUB)),
    ].map(String);
    const touched = listed.filter((id) => ghosts.has(id));
    expect(touched.length).toBeGreaterThan(0);
    for (const id of touched) {
      const stub = ghosts.get(id) as DurableObjectStub;
      expect(await tablesOf(stub), id).toBe(0);
      expect(await sizeOf(stub), id).toBe(pristine);
    }
    // A real job is still created on its first write, with its tables (migrations run then).
    const real = await createJob(uniqueId("alice"));
    expect(await tablesOf(env.JOB_HUB.getByName(real))).toBeGreaterThan(0);
  });

  it("reads of never-used rooms and users (history, retained values, read state, contacts' presence) store nothing", async () => {
    const room = uniqueId("ghost-room");
    const user = uniqueId("ghost-user");
    const asker = uniqueId("alice");
    const token = await mintToken(asker, { claims: { watch: [user] } });
    expect((await produce(`/v1/rooms/${room}/messages`, undefined, { method: "GET" })).status).toBe(404);
    expect(await produceOk(`/v1/rooms/${room}/retained`, undefined, { method: "GET" })).toEqual({ room, retained: {} });
    expect(await produceOk(`/v1/users/${user}/notifications/read`, { all: true })).toEqual({ ids: [], unread_count: 0 });
    const watched = await call(`/v1/presence?users=${user}`, { headers: { Authorization: `Bearer ${token}` } });
    expect(await watched.json()).toEqual({ users: [{ user: { id: user }, online: false, last_seen: null }] });
    const stranger = await call(`/v1/presence?users=${uniqueId("bob")}`, { headers: { Authorization: `Bearer ${token}` } });
    expect(stranger.status).toBe(403);
    for (const stub of [env.ROOM_HUB.getByName(room), env.USER_HUB.getByName(user), env.USER_HUB.getByName(asker)]) {
      expect(await tablesOf(stub)).toBe(0);
    }
  });

  it("answers a stranger 404 and 4004 for a job or batch that exists, exactly as for one that does not", async () => {
    const owner = uniqueId("alice");
    const job = await createJob(owner);
    const batch = uniqueId("batch");
    await produceOk("/v1/batches", { id: batch, owner, jobs: [job] });
    const stranger = await mintToken(uniqueId("mallory"));
    const auth = { headers: { Authorization: `Bearer ${stranger}` } };
    const pairs: [string, string][] = [
      [`/v1/jobs/${job}`, `/v1/jobs/${uniqueId("none")}`],
      [`/v1/batches/${batch}`, `/v1/batches/${uniqueId("none")}`],
    ];
    for (const [existing, missing] of pairs) {
      const a = await call(existing, auth);
      const b = await call(missing, auth);
      expect([a.status, b.status], existing).toEqual([404, 404]);
      expect(await a.json()).toEqual(await b.json());
    }
    for (const [existing, missing] of [
      [`/v1/ws/job/${job}`, `/v1/ws/job/${uniqueId("none")}`],
      [`/v1/ws/batch/${batch}`, `/v1/ws/batch/${uniqueId("none")}`],
    ]) {
      const a = await (await connect(existing as string, { token: stranger })).closed();
      const b = await (await connect(missing as string, { token: stranger })).closed();
      expect(a).toEqual(b);
      expect(a.code).toBe(4004);
    }
    // The owner still sees both.
    expect((await call(`/v1/jobs/${job}`, { headers: { Authorization: `Bearer ${await mintToken(owner)}` } })).status).toBe(200);
  });
});
