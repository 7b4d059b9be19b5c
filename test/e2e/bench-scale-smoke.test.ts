// Keeps `npm run bench -- --scenarios scale` honest at quick scale: a room sharded at 25
// (120 sockets), job channels and broadcasts, every socket dropped and resumed, and
// nothing lost, repeated or out of order.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const out = mkdtempSync(join(tmpdir(), "bench-scale-smoke-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe("npm run bench -- --quick --scenarios scale", () => {
  it("shards the room and delivers every event exactly once through a reconnect of every socket", { timeout: 240_000 }, () => {
    const run = spawnSync(process.execPath, ["bench/run.mjs", "--quick", "--servers", "hub", "--scenarios", "scale", "--out", out], {
      encoding: "utf8",
      timeout: 230_000,
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
    });
    expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0);
    const report = JSON.parse(readFileSync(join(out, "quick.json"), "utf8"));
    const sharded = report.raw.hub.scale[0];
    const flat = report.raw.hub["scale-flat"][0];
    expect(sharded.room.stats.shards).toBeGreaterThanOrEqual(2);
    expect(flat.room.stats.shards).toBe(0);
    for (const part of [sharded.room.final, sharded.jobs.final, sharded.broadcast.final]) {
      expect(part.deliveries).toBeGreaterThan(0);
      expect(part).toMatchObject({ loss: 0, duplicates: 0, gaps: 0 });
    }
    expect(sharded.reconnectFailures).toBe(0);
    expect(sharded.broadcast.answers.every((a: { users_reached: number }) => a.users_reached === sharded.broadcast.users)).toBe(true);
  });
});
