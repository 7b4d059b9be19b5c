// Fault injection for the workers tests: make a chosen RPC between objects, or a chosen
// method of a hub, throw once or N times, or park it at its await so the test can evict
// the object there. Everything is installed from inside the object (runInDurableObject),
// so production code carries no test hooks; an eviction drops the faults with the instance.
import { runInDurableObject } from "cloudflare:test";

export type HubBinding = "JOB_HUB" | "BATCH_HUB" | "USER_HUB" | "ROOM_HUB" | "STATS_SHARD";

export interface FaultPlan {
  /** How many calls fail before calls go through again (default 1; 0 = none, to watch calls; Infinity = all). */
  times?: number;
  /**
   * "throw" rejects the call; "park" never settles it (the caller is stuck at its await);
   * "delay" makes the call now but hands its answer back only on release(), so the
   * caller acts on a stale answer;
   * "crash" resets the calling object right there, as an eviction or a deploy would: what
   * it committed before the await stays, and nothing after the await ever runs.
   */
  mode?: "throw" | "park" | "crash" | "delay";
  /** Only calls addressed to this object name (for an RPC) fail. */
  target?: string;
  /** Calls that go through before the first failing one (default 0). */
  after?: number;
}

/** What a test can see of an installed fault. */
export interface Fault {
  /** Calls seen so far, failing or not. */
  readonly calls: number;
  /** Every call's arguments, and whether it was made to fail. */
  readonly log: { args: unknown[]; failed: boolean }[];
  /** Calls that failed (or were parked) so far. */
  readonly failed: number;
  /** Resolves when a call has been parked or delayed: the caller is now mid-await. */
  parked(timeoutMs?: number): Promise<void>;
  /** Mode "delay": hands the held answers back to their callers. */
  release(): void;
}

class FaultState implements Fault {
  calls = 0;
  failed = 0;
  readonly log: { args: unknown[]; failed: boolean }[] = [];
  private released = false;

  constructor(
    private readonly plan: Required<Omit<FaultPlan, "target">>,
    private readonly label: string,
    private readonly state: DurableObjectState,
  ) {}

  /** Runs `call` or fails it, per the plan. */
  invoke<T>(args: unknown[], call: () => Promise<T>): Promise<T> {
    this.calls += 1;
    const passes = this.calls <= this.plan.after || this.failed >= this.plan.times;
    this.log.push({ args, failed: !passes });
    if (passes) return call();
    this.failed += 1;
    if (this.plan.mode === "crash") {
      // A moment later, not now: the caller's writes before this await commit first, as
      // they would in production while the call is on the wire.
      setTimeout(() => this.state.abort(`injected crash at ${this.label}`), 5);
      return new Promise<T>(() => {});
    }
    if (this.plan.mode === "park") return new Promise<T>(() => {});
    if (this.plan.mode === "delay") {
      const answer = call();
      // Polled from the caller's own context: an RPC answer may only be touched there.
      return (async () => {
        while (!this.released) await new Promise((resolve) => setTimeout(resolve, 5));
        return answer;
      })();
    }
    return Promise.reject(new Error(`injected fault: ${this.label} (failure ${this.failed})`));
  }

  release(): void {
    this.released = true;
  }

  /** Polled from the test's side: each side may only touch its own timers and I/O. */
  async parked(timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.failed === 0) {
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${this.label} to be called`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }
}

function fullPlan(plan: FaultPlan): Required<Omit<FaultPlan, "target">> {
  return { times: plan.times ?? 1, mode: plan.mode ?? "throw", after: plan.after ?? 0 };
}

/**
 * Inside the object `stub` points at, makes calls to `binding`'s `method` fail: e.g.
 * failRpc(batch, "JOB_HUB", "joinBatch", { target: "job-2" }) makes the batch's join of
 * job-2 throw once. The object's env is swapped for one whose namespace wraps that method.
 */
export async function failRpc<T extends Rpc.DurableObjectBranded>(
  stub: DurableObjectStub<T>,
  binding: HubBinding,
  method: string,
  plan: FaultPlan = {},
): Promise<Fault> {
  let fault: FaultState | undefined;
  await runInDurableObject(stub, (instance, state) => {
    const installed = new FaultState(fullPlan(plan), `${binding}.${method}${plan.target ? ` to ${plan.target}` : ""}`, state);
    fault = installed;
    const hub = instance as unknown as { env: Env };
    const real = hub.env[binding] as unknown as DurableObjectNamespace;
    const namespace = new Proxy(real, {
      get(target, prop) {
        if (prop !== "getByName") return Reflect.get(target, prop);
        return (name: string) => {
          const inner = target.getByName(name) as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
          if (plan.target !== undefined && name !== plan.target) return inner;
          return new Proxy(inner, {
            get(stubTarget, key) {
              if (key !== method) return Reflect.get(stubTarget, key);
              // Called as a method of the real stub (an RPC stub answers any property, even `apply`).
              return (...args: unknown[]) =>
                installed.invoke(args, () => (stubTarget[method] as (...a: unknown[]) => Promise<unknown>)(...args));
            },
          });
        };
      },
    });
    replaceEverywhere(hub, hub.env, { ...hub.env, [binding]: namespace });
  });
  return fault as FaultState;
}

/**
 * Points every reference to `from` held by the hub or its components (a component may
 * keep the env it was built with) at `to`. Walks plain objects and class instances a few
 * levels deep; runtime objects (storage, sockets) are left alone.
 */
function replaceEverywhere(root: object, from: unknown, to: unknown): void {
  const seen = new Set<object>();
  const visit = (node: Record<string, unknown>, depth: number) => {
    if (seen.has(node) || depth > 3) return;
    seen.add(node);
    for (const key of Object.keys(node)) {
      const value = node[key];
      if (value === from) node[key] = to;
      else if (value && typeof value === "object" && !Array.isArray(value) && isOurs(value))
        visit(value as Record<string, unknown>, depth + 1);
    }
  };
  visit(root as Record<string, unknown>, 0);
}

/** Plain objects and instances of the project's classes, not the runtime's. */
function isOurs(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return (
    proto === Object.prototype || (proto !== null && !String(proto.constructor?.name ?? "").match(/^(DurableObject|Sql|WebSocket|Durable)/))
  );
}

/**
 * Makes the hub's own method `method` (public or private) fail per the plan, e.g. a
 * timer handler: failMethod(job, "stall", { times: 3 }).
 */
export async function failMethod<T extends Rpc.DurableObjectBranded>(
  stub: DurableObjectStub<T>,
  method: string,
  plan: FaultPlan = {},
): Promise<Fault> {
  let fault: FaultState | undefined;
  await runInDurableObject(stub, (instance, state) => {
    const installed = new FaultState(fullPlan(plan), `method ${method}`, state);
    fault = installed;
    const hub = instance as unknown as Record<string, (...args: unknown[]) => unknown>;
    const real = hub[method];
    if (typeof real !== "function") throw new Error(`the hub has no method ${method}`);
    hub[method] = (...args: unknown[]) => installed.invoke(args, async () => real.apply(hub, args));
  });
  return fault as FaultState;
}

/** Rows an object still stores (every table but the schema versions): 0 once it is gone. */
export function storedRows<T extends Rpc.DurableObjectBranded>(stub: DurableObjectStub<T>): Promise<number> {
  return runInDurableObject(stub, (_instance, state) => {
    const tables = state.storage.sql
      .exec<{ name: string }>(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite_%' AND name != 'schema_version'",
      )
      .toArray();
    return tables.reduce((n, t) => n + state.storage.sql.exec<{ c: number }>(`SELECT COUNT(*) AS c FROM "${t.name}"`).one().c, 0);
  });
}
