import { describe, expect, it } from "vitest";
import { connect, LIMITS_PRODUCER_KEY, produce } from "./helpers";

describe("edge rate limits", () => {
  // 1,000+ requests: on a loaded 2-core machine this alone took 20 s.
  it("answers a producer over its budget with 429 and Retry-After, and other keys keep working", { timeout: 90_000 }, async () => {
    // wrangler.toml: 1000 requests per 10 s per key. Bad bodies are cheap and still count.
    // Sent 200 at a time, so even a loaded machine spends the budget inside one window; if a
    // window boundary falls inside the burst, the budget refills once, so the burst runs on
    // (bounded) until the limit bites.
    const statuses: number[] = [];
    let over: Response | undefined;
    while (!over && statuses.length < 5000) {
      const batch = Array.from({ length: 200 }, () => produce("/v1/jobs", { owner: 1 }, { key: LIMITS_PRODUCER_KEY }));
      for (const res of await Promise.all(batch)) {
        statuses.push(res.status);
        if (res.status === 429 && !over) over = res;
        else await res.body?.cancel();
      }
    }
    expect(statuses.indexOf(429)).toBeGreaterThanOrEqual(1000); // never before the budget is spent
    expect(statuses.filter((s) => s !== 400 && s !== 429)).toEqual([]);
    // The refusal itself (checked on the flood's own 429: a later request may fall in a new window).
    expect(over?.headers.get("Retry-After")).toBe("10");
    expect((await over?.json<any>())?.error.code).toBe("rate_limited");
    expect((await produce("/v1/jobs", { owner: "alice" })).status).toBe(201);
  });

  it("closes upgrades over the per-address budget with 4008, and other addresses keep connecting", { timeout: 60_000 }, async () => {
    // wrangler.toml: 120 upgrades per minute per client IP, counted before auth.
    const ip = "203.0.113.77";
    for (let i = 0; i < 120; i++) {
      const socket = await connect("/v1/ws/user", { ip });
      expect((await socket.closed()).code).toBe(4001); // no token, but within budget
    }
    const over = await connect("/v1/ws/user", { ip });
    expect((await over.closed()).code).toBe(4008);
    const elsewhere = await connect("/v1/ws/user", { ip: "203.0.113.78" });
    expect((await elsewhere.closed()).code).toBe(4001);
  });
});
