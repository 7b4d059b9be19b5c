import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { migrate } from "../../src/hub/migrations";
import { RETRY_CAP_MS, retryDelayMs, TIMERS_SCHEMA, type Timer, Timers } from "../../src/hub/timers";
import { installClock, timerNames } from "./clock";
import { failMethod, failRpc } from "./faults";
import { createJob, produceOk, uniqueId } from "./helpers";

type Row = { name: string; due: number; attempts: number };

/** The storage a Timers was built on, to build a second one over the same table. */
const storageOf = (t: Timers) => (t as unknown as { storage: DurableObjectStorage }).storage;
const sqlOf = (t: Timers) => (t as unknown as { sql: SqlStorage }).sql;

/** Runs `body` against a timer table of its own, in an object no test uses otherwise. */
function withTimers<R>(body: (timers: Timers, rows: () => Row[]) => Promise<R>): Promise<R> {
  return runInDurableObject(env.ROOM_HUB.getByName(uniqueId("timers")), async (_instance, state) => {
    const rows = () => state.storage.sql.exec<Row>("SELECT name, due, attempts FROM timers ORDER BY name").toArray();
    migrate(state.storage, "timers", TIMERS_SCHEMA); // a room that never stored has no tables yet
    const result = await body(new Timers(state.storage, state.storage.sql), rows);
    await state.storage.deleteAll();
    return result;
  });
}

describe("timer leases", () => {
  it("keeps a failing timer's row, pushed forward with capped exponential backoff, and deletes it once the handler succeeds", async () => {
    const seen = await withTimers(async (timers, rows) => {
      timers.set("probe", 1_000, { n: 1 });
      const attempts: number[] = [];
      const dues: number[] = [];
      let now = 1_000;
      for (let i = 0; i < 12; i++) {
        await timers.runDue(now, (timer) => {
          attempts.push(timer.attempts);
          throw new Error("peer unavailable");
        });
        const row = rows()[0] as Row;
        dues.push(row.due - now);
        now = row.due;
      }
      // A run before the lease ends finds nothing to do: a repeated alarm is harmless.
      expect(await timers.runDue(now - 1, () => {})).toBe(0);
      await timers.runDue(now, (timer) => {
        attempts.push(timer.attempts);
      });
      return { attempts, dues, left: rows() };
    });
    expect(seen.attempts).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(seen.dues.slice(0, 4)).toEqual([2_000, 4_000, 8_000, 16_000]);
    expect(seen.dues.at(-1)).toBe(RETRY_CAP_MS);
    expect(seen.left).toEqual([]);
  });

  it("gives up only on timers that say they may, and a handler that set its timer again keeps its plan", async () => {
    const left = await withTimers(async (timers, rows) => {
      timers.mayGiveUp("cosmetic", { afterAttempts: 3, why: "the next event sets it again" });
      timers.set("cosmetic", 10);
      timers.set("essential", 10);
      timers.set("chained", 10);
      let now = 10;
      for (let i = 0; i < 5; i++) {
        await timers.runDue(now, (timer: Timer) => {
          if (timer.name === "chained") timers.set("chained", timer.due + 60_000);
          else throw new Error("still failing");
        });
        now += RETRY_CAP_MS;
      }
      return rows();
    });
    expect(left.map((r) => r.name)).toEqual(["chained", "essential"]);
    expect(left.find((r) => r.name === "essential")?.attempts).toBe(5);
    expect(left.find((r) => r.name === "chained")?.attempts).toBe(0);
    expect(retryDelayMs(1)).toBe(2_000);
  });

  it("answers pending timers from memory exactly as the table holds them, and a fresh instance agrees", async () => {
    const seen = await withTimers(async (timers, rows) => {
      const fromMemory = (t: Timers) => Object.fromEntries(rows().map((r) => [r.name, t.dueOf(r.name)]));
      const fromTable = () => Object.fromEntries(rows().map((r) => [r.name, r.due]));
      timers.set("a", 100);
      timers.set("b", 200);
      timers.set("c", 300);
      timers.clear("b");
      timers.clear("never-set");
      timers.setIfAbsent("a", 50); // pending: the earlier plan stays
      // "a" fails (leased into the future), "c" re-plans itself: memory follows both.
      await timers.runDue(300, (timer) => {
        if (timer.name === "c") timers.set("c", 5_000);
        else throw new Error("peer unavailable");
      });
      const states = [fromMemory(timers), fromTable(), fromMemory(new Timers(storageOf(timers), sqlOf(timers)))];
      return { states, b: timers.dueOf("b"), has: [timers.has("a"), timers.has("b")] };
    });
    expect(seen.states[0]).toEqual({ a: 300 + retryDelayMs(1), c: 5_000 });
    expect(seen.states[1]).toEqual(seen.states[0]);
    expect(seen.states[2]).toEqual(seen.states[0]);
    expect(seen.b).toBeNull();
    expect(seen.has).toEqual([true, false]);
  });

  it("a job whose batch report dies mid-await (object reset) still reports its final state once the lease runs out", async () => {
    const owner = uniqueId("alice");
    const job = await createJob(owner);
    const batch = uniqueId("batch");
    await produceOk("/v1/batches", { id: batch, owner, jobs: [job] });
    let stub = env.JOB_HUB.getByName(job);
    let clock = await installClock([stub]);
    // The final state goes at once and fails; its retry runs from the alarm and the
    // object is reset while that retry awaits the batch.
    await failRpc(stub, "BATCH_HUB", "memberChanged");
    await produceOk(`/v1/jobs/${job}/events`, { status: "completed" });
    await failRpc(stub, "BATCH_HUB", "memberChanged", { mode: "crash" });
    clock.advance(10_000);
    await expect(runDurableObjectAlarm(stub)).rejects.toThrow(/injected crash/);

    stub = env.JOB_HUB.getByName(job); // a reset object's old stubs stay broken
    expect(await timerNames(stub)).toContain("batch-report");
    clock = await installClock([stub], clock.now + RETRY_CAP_MS);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const state = await produceOk(`/v1/batches/${batch}`, undefined, { method: "GET" });
    expect(state).toMatchObject({ total: 1, completed: 1 });
    expect(await timerNames(stub)).not.toContain("batch-report");
  });

  it("retries the stall watchdog past any number of failures until the job is failed as stalled", async () => {
    const owner = uniqueId("alice");
    const job = await createJob(owner, { stall_timeout_s: 10 });
    const stub = env.JOB_HUB.getByName(job);
    const clock = await installClock([stub]);
    await produceOk(`/v1/jobs/${job}/events`, { status: "running" });
    const fault = await failMethod(stub, "stall", { times: 8 });
    clock.advance(10_000);
    for (let i = 0; i <= 8; i++) {
      expect(await runDurableObjectAlarm(stub)).toBe(true);
      clock.advance(RETRY_CAP_MS);
    }
    expect(fault.failed).toBe(8);
    expect(await produceOk(`/v1/jobs/${job}`, undefined, { method: "GET" })).toMatchObject({
      status: "failed",
      error: { code: "stalled" },
    });
  });

  it("gives up a planned stage that keeps failing after 5 runs, and the job carries on", async () => {
    const owner = uniqueId("alice");
    const job = uniqueId("job");
    const stub = env.JOB_HUB.getByName(job);
    const clock = await installClock([stub]);
    await createJob(owner, { id: job, stages: [{ name: "Rendering", progress: 50, duration_ms: 1_000 }] });
    await produceOk(`/v1/jobs/${job}/events`, { status: "running" });
    const fault = await failMethod(stub, "playStage", { times: Number.POSITIVE_INFINITY });
    for (let i = 0; i < 6; i++) {
      clock.advance(RETRY_CAP_MS);
      await runDurableObjectAlarm(stub);
    }
    expect(fault.failed).toBe(5);
    expect(await timerNames(stub)).not.toContain("stage");
    expect(await produceOk(`/v1/jobs/${job}/events`, { status: "completed" })).toMatchObject({ state: { status: "completed" } });
  });
});
