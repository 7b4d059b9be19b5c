// The hubs' injectable clock, driven from tests: the hub reads `now()` and timers fire
// through runDurableObjectAlarm, so no test waits for real time to pass.
import { runInDurableObject } from "cloudflare:test";

export interface TestClock {
  now: number;
  advance(ms: number): void;
}

/**
 * Puts every given hub on one shared test clock. Call it before the hub is first used:
 * a timer set on the real clock before the switch would be due at a surprising time.
 * The clock starts a day ahead so the real alarm never fires on its own during a test.
 */
export async function installClock<T extends Rpc.DurableObjectBranded>(
  stubs: DurableObjectStub<T>[],
  start = Date.now() + 86_400_000,
): Promise<TestClock> {
  const clock: TestClock = {
    now: start,
    advance(ms) {
      clock.now += ms;
    },
  };
  for (const stub of stubs) {
    await runInDurableObject(stub, (instance) => {
      (instance as unknown as { now: () => number }).now = () => clock.now;
    });
  }
  return clock;
}

/** Names of the timers pending in a hub, earliest first (none when it has no tables: never written, or wiped). */
export function timerNames<T extends Rpc.DurableObjectBranded>(stub: DurableObjectStub<T>): Promise<string[]> {
  return runInDurableObject(stub, (_instance, state) => {
    const sql = state.storage.sql;
    if (sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'timers'").toArray().length === 0) return [];
    return sql
      .exec<{ name: string }>("SELECT name FROM timers ORDER BY due, name")
      .toArray()
      .map((r) => r.name);
  });
}

/** Logged event types of a hub, in seq order. */
export function loggedTypes<T extends Rpc.DurableObjectBranded>(stub: DurableObjectStub<T>): Promise<string[]> {
  return runInDurableObject(stub, (_instance, state) =>
    state.storage.sql
      .exec<{ type: string }>("SELECT type FROM events ORDER BY seq")
      .toArray()
      .map((r) => r.type),
  );
}
