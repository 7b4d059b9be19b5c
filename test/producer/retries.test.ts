// The SDK's retry rules with a scripted fetch: what is retried, how long it waits, and
// that an event_id is generated once and sent unchanged on every attempt.
import { describe, expect, it } from "vitest";
import { Producer, ProducerError } from "../../packages/producer/src/index.js";

interface Seen {
  method: string;
  url: string;
  body: any;
}

/** A Producer whose fetch answers from a script, and whose waits are recorded instead of slept. */
function scripted(answers: (Response | Error)[], retry = {}) {
  const seen: Seen[] = [];
  const waits: number[] = [];
  const producer = new Producer({
    url: "https://hub.example.com",
    key: "k",
    retry,
    fetch: async (input, init) => {
      seen.push({ method: init?.method ?? "GET", url: String(input), body: init?.body ? JSON.parse(String(init.body)) : undefined });
      const next = answers.shift();
      if (!next) throw new Error("script ran out");
      if (next instanceof Error) throw next;
      return next;
    },
    sleep: async (ms) => {
      waits.push(ms);
    },
  });
  return { producer, seen, waits };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });
const report = { seq: 2, state: { id: "j" }, cancel_requested: true };

describe("the producer SDK's retries", () => {
  it("retries network errors and 5xx with the same generated event_id, and surfaces cancel_requested", async () => {
    const { producer, seen, waits } = scripted([
      new TypeError("fetch failed"),
      json(503, { error: { code: "internal", message: "x" } }),
      json(200, report),
    ]);
    const answer = await producer.jobs.update("j", { progress: 40 });
    expect(answer.cancel_requested).toBe(true);
    expect(seen).toHaveLength(3);
    const ids = seen.map((s) => s.body.event_id);
    expect(ids[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(new Set(ids).size).toBe(1);
    expect(waits).toHaveLength(2);
    expect(waits[0]).toBeLessThan(250);
    expect(waits[1]).toBeLessThan(500);
  });

  it("waits what a 429's Retry-After says", async () => {
    const { producer, waits } = scripted([
      json(429, { error: { code: "rate_limited", message: "slow down" } }, { "Retry-After": "3" }),
      json(200, report),
    ]);
    await producer.jobs.complete("j", { url: "https://cdn.example.com/x" });
    expect(waits).toEqual([3_000]);
  });

  it("never retries other 4xx, and throws the hub's error code, message and issues", async () => {
    const { producer, seen } = scripted([
      json(400, {
        error: { code: "validation_failed", message: "body does not match the schema", issues: [{ path: "owner", message: "Invalid" }] },
      }),
    ]);
    const error = await producer.jobs.create({ owner: "" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProducerError);
    expect(error).toMatchObject({ code: "validation_failed", status: 400, issues: [{ path: "owner", message: "Invalid" }] });
    expect(seen).toHaveLength(1);
  });

  it("gives up after the configured attempts with the last error", async () => {
    const down = () => json(502, { error: { code: "internal", message: "bad gateway" } });
    const { producer, seen } = scripted([down(), down(), down()], { attempts: 3 });
    await expect(producer.notify("alice", { kind: "x" })).rejects.toMatchObject({ code: "internal", status: 502 });
    expect(seen).toHaveLength(3);
    expect(new Set(seen.map((s) => s.body.id)).size).toBe(1);
  });

  it("stamps a generated id on creates, notifications and every bulk item, and leaves given ones alone", async () => {
    const { producer, seen } = scripted([json(201, {}), json(200, { results: [] }), json(200, { results: [] })]);
    await producer.jobs.create({ owner: "alice" });
    await producer.publish([
      { channel: "user:alice", type: "campaign:launched", data: { id: 1 } },
      { channel: "user:alice", type: "notification", data: { kind: "like" } },
      { channel: "room:r", type: "stats:updated", event_id: "mine" },
    ]);
    await producer.jobs.bulk([{ job: "a", progress: 10 }]);
    expect(seen[0]!.body.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(seen[1]!.body[0].event_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(seen[1]!.body[1].data).toMatchObject({ kind: "like", id: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    expect(seen[1]!.body[1].event_id).toBeUndefined();
    expect(seen[1]!.body[2].event_id).toBe("mine");
    expect(seen[2]!.body[0]).toMatchObject({ job: "a", progress: 10, event_id: expect.any(String) });
    expect(seen.map((s) => `${s.method} ${new URL(s.url).pathname}`)).toEqual([
      "POST /v1/jobs",
      "POST /v1/publish",
      "POST /v1/jobs/events",
    ]);
  });
});
