// Objects stored by an earlier layout keep working after an upgrade: each test rebuilds
// that layout inside a live object (columns, rows, schema version), evicts the object so
// its constructor runs the migrations, and checks what a producer and a socket see.
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { EVENT_LOG_SCHEMA } from "../../src/hub/event-log";
import { connect, createJob, mintToken, produceOk, uniqueId } from "./helpers";

describe("upgrading stored objects", () => {
  it("a channel whose publish counts were stored as counter rows keeps its totals, and counts on from the log", async () => {
    const owner = uniqueId("alice");
    const job = await createJob(owner);
    const socket = await connect(`/v1/ws/job/${job}`, { token: await mintToken(owner) });
    await socket.next("connected");
    await produceOk(`/v1/jobs/${job}/events`, { status: "running", progress: 10 });
    const stub = env.JOB_HUB.getByName(job);
    // The earlier layout: no delivered_total on events; published (2 events) and delivered
    // (1 socket got the second) in the counters table, half of it acknowledged by the StatsHub.
    await runInDurableObject(stub, (_instance, state) => {
      const sql = state.storage.sql;
      sql.exec("ALTER TABLE events DROP COLUMN published_total");
      sql.exec("ALTER TABLE events DROP COLUMN delivered_total");
      sql.exec("DELETE FROM counters WHERE name IN ('published', 'delivered')");
      sql.exec("INSERT INTO counters (name, value, reported) VALUES ('published', 2, 1), ('delivered', 1, 0)");
      sql.exec("UPDATE schema_version SET version = ? WHERE component = 'hub'", EVENT_LOG_SCHEMA.length - 2);
    });
    socket.hangUp();
    await evictDurableObject(stub);

    const before = await produceOk<any>(`/v1/jobs/${job}/stats`, undefined, { method: "GET" });
    expect(before.counters).toMatchObject({ published: 2, delivered: 1 });
    const again = await connect(`/v1/ws/job/${job}`, { token: await mintToken(owner) });
    await again.next("connected");
    await produceOk(`/v1/jobs/${job}/events`, { progress: 20 });
    await again.next("job:update");
    const after = await produceOk<any>(`/v1/jobs/${job}/stats`, undefined, { method: "GET" });
    expect(after.counters).toMatchObject({ published: 3, delivered: 2 });
    // Reports may have gone meanwhile: what the StatsHub acknowledged plus what is still
    // owed to it is every count, once (none lost in the move, none sent twice).
    const read = () =>
      runInDurableObject(stub, (instance, state) => {
        const counters = (instance as unknown as { counters: { takeReport(now: number, force: boolean): Record<string, number> | null } })
          .counters;
        const rows = state.storage.sql.exec<{ name: string; reported: number }>("SELECT name, reported FROM counters").toArray();
        return { owed: counters.takeReport(Date.now(), true), reported: Object.fromEntries(rows.map((r) => [r.name, r.reported])) };
      });
    let { owed, reported } = await read();
    // A report on its way holds the next one back: wait (bounded) for its answer.
    for (let i = 0; owed === null && i < 100; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      ({ owed, reported } = await read());
    }
    if (!owed) throw new Error("a stats report stayed in flight for 2 s");
    expect((reported.published ?? 0) + (owed.published ?? 0)).toBe(3);
    expect((reported.delivered ?? 0) + (owed.delivered ?? 0)).toBe(2);
    again.hangUp();
  });
});
