// The pure parts of room sharding: where sockets go, and how the root batches its sends.
import { describe, expect, it } from "vitest";
import { ShardFanout } from "../../src/rooms/shard-fanout";
import { MAX_ROOM_SHARDS, pickPart, planRoute } from "../../src/rooms/shard-plan";
import type { ShardItem } from "../../src/rooms/shard-protocol";

describe("planRoute and pickPart", () => {
  it("fills the root first, in grants of a tenth of the threshold", () => {
    expect(planRoute(50, 0, [])).toEqual({ root: 5, shards: [] });
    expect(planRoute(50, 47, [])).toEqual({ root: 3, shards: [] });
  });

  it("opens a shard once the root is full, and another once the open ones are nearly full", () => {
    expect(planRoute(50, 50, [])).toEqual({ root: 0, shards: [5] });
    expect(planRoute(50, 52, [{ sockets: 20 }])).toEqual({ root: 0, shards: [5] });
    expect(planRoute(50, 50, [{ sockets: 47 }])).toEqual({ root: 0, shards: [3, 5] });
    expect(planRoute(50, 50, [{ sockets: 50 }, { sockets: 49 }])).toEqual({ root: 0, shards: [0, 1, 5] });
  });

  it("advertises nothing for a room at MAX_ROOM_SHARDS full shards", () => {
    const full = Array.from({ length: MAX_ROOM_SHARDS }, () => ({ sockets: 50 }));
    const route = planRoute(50, 50, full);
    expect(route.root).toBe(0);
    expect(route.shards.every((n) => n === 0)).toBe(true);
    expect(pickPart(route, 7)).toBeNull();
  });

  it("takes slots from the root, then spreads over the shards with slots by hash", () => {
    const route = { root: 1, shards: [2, 0, 2] };
    expect(pickPart(route, 0)).toBe("root");
    const picked = [pickPart(route, 0), pickPart(route, 1), pickPart(route, 0), pickPart(route, 5)];
    expect(picked.sort()).toEqual([1, 1, 3, 3]);
    expect(route).toEqual({ root: 0, shards: [0, 0, 0] });
    expect(pickPart(route, 3)).toBeNull();
  });

  it("never places more than the threshold in a part from one advertisement after another", () => {
    // One Worker placing 3,000 sockets at 500 a part, asking again whenever it runs out,
    // with the root's view current: every part ends at or under 500.
    const threshold = 500;
    const counts: number[] = [0];
    let route = planRoute(threshold, 0, []);
    for (let i = 0; i < 3_000; i++) {
      let part = pickPart(route, (i * 2_654_435_761) >>> 0);
      if (part === null) {
        route = planRoute(
          threshold,
          counts[0] as number,
          counts.slice(1).map((sockets) => ({ sockets })),
        );
        part = pickPart(route, (i * 2_654_435_761) >>> 0);
      }
      const index = part === "root" ? 0 : (part as number);
      counts[index] = (counts[index] ?? 0) + 1;
    }
    expect(counts.every((n) => n <= threshold)).toBe(true);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(3_000);
    expect(counts.length).toBe(6);
  });
});

describe("ShardFanout", () => {
  it("keeps one call in flight per shard and batches what queued meanwhile, in order", async () => {
    const calls: { shard: number; frames: string[] }[] = [];
    const release: (() => void)[] = [];
    const fanout = new ShardFanout(
      (shard, items) => {
        calls.push({ shard, frames: items.map((i) => i.frame ?? "") });
        return new Promise<void>((resolve) => release.push(resolve));
      },
      () => {},
    );
    const item = (frame: string): ShardItem => ({ frame });
    fanout.push([1, 2], item("a"));
    fanout.push([1, 2], item("b"));
    fanout.push([1], item("c"));
    expect(calls).toEqual([
      { shard: 1, frames: ["a"] },
      { shard: 2, frames: ["a"] },
    ]);
    expect(fanout.queued(1)).toBe(2);
    release.shift()?.();
    await new Promise((r) => setTimeout(r, 0));
    expect(calls.at(-1)).toEqual({ shard: 1, frames: ["b", "c"] });
    release.shift()?.();
    await new Promise((r) => setTimeout(r, 0));
    expect(calls.at(-1)).toEqual({ shard: 2, frames: ["b"] });
  });

  it("drops a failed call's items and goes on with the next", async () => {
    const failures: number[] = [];
    let fail = true;
    const sent: string[][] = [];
    const fanout = new ShardFanout(
      async (_shard, items) => {
        if (fail) {
          fail = false;
          throw new Error("shard unreachable");
        }
        sent.push(items.map((i) => i.frame ?? ""));
      },
      (shard) => failures.push(shard),
    );
    fanout.push([3], { frame: "lost" });
    fanout.push([3], { frame: "next" });
    await new Promise((r) => setTimeout(r, 0));
    await new Promise((r) => setTimeout(r, 0));
    expect(failures).toEqual([3]);
    expect(sent).toEqual([["next"]]);
  });
});
