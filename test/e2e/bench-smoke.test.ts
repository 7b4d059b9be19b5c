// Keeps `npm run bench` honest: the quick mode, hub only (straight on workerd), must run
// end to end and lose nothing in any scenario, the reconnect storm included.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const out = mkdtempSync(join(tmpdir(), "bench-smoke-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe("npm run bench -- --quick (hub)", () => {
  it("delivers every event exactly once in every scenario", { timeout: 300_000 }, () => {
    const run = spawnSync(process.execPath, ["bench/run.mjs", "--quick", "--servers", "hub", "--out", out], {
      encoding: "utf8",
      timeout: 280_000, // seven cells, each a fresh server: minutes on a busy machine
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
    });
    expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0);
    const report = JSON.parse(readFileSync(join(out, "quick.json"), "utf8"));
    const hub = report.results.hub;
    expect(Object.keys(hub).sort()).toEqual(["p0", "p1", "s1", "s2", "s3", "s4", "s5"]);
    for (const [scenario, m] of Object.entries<Record<string, number>>(hub)) {
      if (scenario === "p0" || scenario === "p1") {
        expect(m["publishErrors.worst"], scenario).toBe(0);
        continue;
      }
      expect(m.deliveries, scenario).toBeGreaterThan(0);
      expect(m["loss.worst"], scenario).toBe(0);
      expect(m["duplicates.worst"], scenario).toBe(0);
      expect(m["orderErrors.worst"], scenario).toBe(0);
    }
  });
});
