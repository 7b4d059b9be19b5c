// One run at a time, and a call during a run is not lost: it gets exactly one more pass.
import { describe, expect, it } from "vitest";
import { SingleFlight } from "../../src/hub/single-flight";

/** A task whose runs finish only when the test says so. */
function gatedTask() {
  const gates: Array<() => void> = [];
  let active = 0;
  let maxActive = 0;
  let runs = 0;
  const task = async () => {
    runs++;
    active++;
    maxActive = Math.max(maxActive, active);
    await new Promise<void>((resolve) => gates.push(resolve));
    active--;
  };
  const release = async () => {
    // Let the flight reach its next await before opening the gate it waits at.
    for (let i = 0; i < 5 && gates.length === 0; i++) await Promise.resolve();
    gates.shift()?.();
    await Promise.resolve();
  };
  return { task, release, stats: () => ({ runs, maxActive }) };
}

describe("SingleFlight", () => {
  it("runs once when nobody else calls", async () => {
    const t = gatedTask();
    const flight = new SingleFlight(t.task);
    const done = flight.run();
    await t.release();
    await done;
    expect(t.stats()).toEqual({ runs: 1, maxActive: 1 });
  });

  it("folds calls made during a run into exactly one more pass, never two at once", async () => {
    const t = gatedTask();
    const flight = new SingleFlight(t.task);
    const first = flight.run();
    const second = flight.run();
    const third = flight.run();
    expect(second).toBe(first);
    expect(third).toBe(first);
    await t.release();
    await t.release();
    await first;
    expect(t.stats()).toEqual({ runs: 2, maxActive: 1 });
  });

  it("starts afresh after a run ends, and after a run fails", async () => {
    let calls = 0;
    const flight = new SingleFlight(async () => {
      calls++;
      if (calls === 1) throw new Error("boom");
    });
    await expect(flight.run()).rejects.toThrow("boom");
    await flight.run();
    expect(calls).toBe(2);
  });
});
