// Property-style: 200 seeded random interleavings of batch creation, member reports,
// producer retries, RPC failures, evictions and expiries. Whatever happens, a batch that
// was created ends `batch:completed` with exactly the counts its jobs ended with, and
// once every lifetime has passed, no object keeps a row or a timer.
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { installClock, type TestClock } from "./clock";
import { failRpc, storedRows } from "./faults";
import { interleavingsProducerKey, produce, uniqueId } from "./helpers";

const RUNS = 200;
const CHUNK = 25;
const PARALLEL = 5;
const FINAL = ["completed", "failed", "cancelled"] as const;
type Final = (typeof FINAL)[number];

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

interface World {
  seed: number;
  random: () => number;
  clock: TestClock;
  owner: string;
  batch: string;
  jobs: string[];
  /** What each job ended as, by the producer's accepted final POST. */
  outcome: Map<string, Final>;
  created: boolean;
  /** The counts the batch showed the first time every member was final. */
  completed?: Record<string, number>;
  trace: string[];
  /** The chunk's producer key: the edge limits requests per key, and all chunks together post more than one budget. */
  key: string;
}

const pick = <T>(w: World, items: readonly T[]): T => items[Math.floor(w.random() * items.length)] as T;
const stubs = (w: World): DurableObjectStub[] => [env.BATCH_HUB.getByName(w.batch), ...w.jobs.map((j) => env.JOB_HUB.getByName(j))];

/** Puts the object on the run's one clock (again, after an eviction gave it a new instance). */
async function onClock(w: World, stub: DurableObjectStub): Promise<void> {
  await runInDurableObject(stub, (instance) => {
    (instance as unknown as { now: () => number }).now = () => w.clock.now;
  });
}

async function runAlarms(w: World): Promise<void> {
  for (const stub of stubs(w)) await runDurableObjectAlarm(stub);
}

async function createBatch(w: World): Promise<number> {
  const res = await produce("/v1/batches", { id: w.batch, owner: w.owner, jobs: w.jobs }, { key: w.key });
  await res.body?.cancel();
  if (res.status === 200 || res.status === 201) w.created = true;
  w.trace.push(`create ${res.status}`);
  return res.status;
}

async function report(w: World, job: string, body: Record<string, unknown>): Promise<number> {
  const res = await produce(`/v1/jobs/${job}/events`, body, { key: w.key });
  await res.body?.cancel();
  w.trace.push(`report ${w.jobs.indexOf(job)} ${JSON.stringify(body)} ${res.status}`);
  return res.status;
}

/** One random step; true when it may have moved the batch. */
async function step(w: World): Promise<boolean> {
  const open = w.jobs.filter((j) => !w.outcome.has(j));
  const action = pick(w, ["create", "progress", "finish", "alarm", "advance", "evict", "fault", "fault"] as const);
  if (action === "create") await createBatch(w);
  else if (action === "progress" && open.length > 0) {
    await report(w, pick(w, open), { status: "running", progress: Math.floor(w.random() * 100) });
  } else if (action === "finish" && open.length > 0) {
    const job = pick(w, open);
    const status = pick(w, FINAL);
    if ((await report(w, job, { status })) === 200) w.outcome.set(job, status);
  } else if (action === "alarm") {
    w.clock.advance(Math.floor(w.random() * 10_000));
    await runDurableObjectAlarm(pick(w, stubs(w)));
    w.trace.push("alarm");
  } else if (action === "advance") {
    const ms = pick(w, [1_000, 60_000, 600_000, 7_200_000, 86_400_000]);
    w.clock.advance(ms);
    w.trace.push(`advance ${ms}`);
    await runAlarms(w);
  } else if (action === "evict") {
    const stub = pick(w, stubs(w));
    await evictDurableObject(stub).catch(() => {}); // not running: nothing to evict
    await onClock(w, stub);
    w.trace.push("evict");
    return false;
  } else if (action === "fault") {
    const times = 1 + Math.floor(w.random() * 3);
    if (w.random() < 0.5) {
      const target = pick(w, w.jobs);
      await failRpc(env.BATCH_HUB.getByName(w.batch), "JOB_HUB", "joinBatch", { target, times });
      w.trace.push(`fault join ${w.jobs.indexOf(target)} x${times}`);
    } else {
      const job = pick(w, w.jobs);
      await failRpc(env.JOB_HUB.getByName(job), "BATCH_HUB", "memberChanged", { times });
      w.trace.push(`fault report ${w.jobs.indexOf(job)} x${times}`);
    }
    return false;
  }
  return true;
}

/** Reads the batch as a producer would, noting the first time it shows every member final. */
async function watch(w: World): Promise<number> {
  const res = await produce(`/v1/batches/${w.batch}`, undefined, { method: "GET", key: w.key });
  const body = await res.json<Record<string, number>>();
  if (res.status === 200 && !w.completed && body.completed + body.failed + body.cancelled === body.total) w.completed = body;
  return res.status;
}

async function runOnce(seed: number, key: string): Promise<void> {
  const random = prng(seed);
  const w: World = {
    seed,
    random,
    clock: { now: 0, advance: () => {} },
    owner: uniqueId("owner"),
    batch: uniqueId(`batch-s${seed}`),
    jobs: Array.from({ length: 1 + Math.floor(random() * 3) }, () => uniqueId(`job-s${seed}`)),
    outcome: new Map(),
    created: false,
    trace: [],
    key,
  };
  w.clock = await installClock(stubs(w) as DurableObjectStub<Rpc.DurableObjectBranded>[]);
  const start = w.clock.now;
  for (const job of w.jobs) {
    const ttl = pick(w, [1, 60, 3_600, undefined]);
    const res = await produce("/v1/jobs", { id: job, owner: w.owner, ...(ttl === undefined ? {} : { ttl_s: ttl }) }, { key: w.key });
    await res.body?.cancel();
  }
  const why = () => `seed ${seed}: ${w.trace.join("; ")}`;

  // The producer asks for the batch first; what follows is random. The random phase stays
  // well inside the jobs' maximum lifetime (7 days), so only the producer ends jobs.
  await createBatch(w);
  for (let i = 4 + Math.floor(random() * 8); i > 0 && w.clock.now - start < 4 * 86_400_000; i--) {
    // Only steps that can end the batch are followed by a look at it.
    if (await step(w)) await watch(w);
  }

  // A producer that got an error retries the same body until it gets an answer.
  for (let i = 0; i < 30 && !w.created; i++) {
    if ((await createBatch(w)) === 404) break;
    w.clock.advance(300_000);
    await runAlarms(w);
  }
  for (const job of w.jobs.filter((j) => !w.outcome.has(j))) {
    const status = pick(w, FINAL);
    expect(await report(w, job, { status }), why()).toBe(200);
    w.outcome.set(job, status);
  }

  if (w.created) {
    // Retries back off up to 5 minutes; a created batch must complete well inside its
    // lifetime (it may then expire, JOB_TTL_S after completing, before we look again).
    for (let round = 0; round < 30 && !w.completed; round++) {
      expect(await watch(w), why()).toBe(200);
      if (w.completed) break;
      w.clock.advance(300_000);
      await runAlarms(w);
    }
    const count = (s: Final) => [...w.outcome.values()].filter((o) => o === s).length;
    expect(w.completed, why()).toMatchObject({
      total: w.jobs.length,
      completed: count("completed"),
      failed: count("failed"),
      cancelled: count("cancelled"),
    });
  }

  // Past every lifetime: nothing is left anywhere, not even a timer.
  w.clock.advance(400 * 86_400_000);
  await runAlarms(w);
  for (const stub of stubs(w)) expect(await storedRows(stub as DurableObjectStub<Rpc.DurableObjectBranded>), why()).toBe(0);
}

describe("batches under random interleavings of faults", () => {
  for (let chunk = 0; chunk < RUNS / CHUNK; chunk++) {
    it(`seeds ${chunk * CHUNK} to ${(chunk + 1) * CHUNK - 1}: complete with exact counts, or gone after their lifetime`, async () => {
      // Seeds touch disjoint objects, so a few run at once: their awaits overlap.
      for (let seed = chunk * CHUNK; seed < (chunk + 1) * CHUNK; seed += PARALLEL) {
        await Promise.all(Array.from({ length: PARALLEL }, (_, i) => runOnce(seed + i, interleavingsProducerKey(chunk))));
      }
    }, 120_000);
  }
});
