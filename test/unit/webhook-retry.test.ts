import { describe, expect, it } from "vitest";
import { afterFailure, JITTER, plainDelay, RETRY_WINDOW_MULTIPLE, schedule } from "../../src/webhooks/retry";

describe("the webhook retry schedule", () => {
  it("retries for 24 hours at the default 5 s first delay, each wait 4x the last, none over 8 h", () => {
    const times = schedule(5_000);
    expect(times.map((t) => Math.round(t / 1000))).toEqual([0, 5, 25, 105, 425, 1705, 6825, 27305, 56105, 84905, 86400]);
    const waits = times.slice(1).map((t, i) => t - (times[i] as number));
    expect(Math.max(...waits)).toBeLessThanOrEqual(8 * 3600_000);
    expect(times.at(-1)).toBe(24 * 3600_000);
  });

  it("shrinks with the first delay, so a test runs the whole window in seconds", () => {
    expect(schedule(1)).toEqual([0, 1, 5, 21, 85, 341, 1365, 5461, 11221, 16981, 17280]);
    expect(plainDelay(1, 50)).toBe(50);
    expect(plainDelay(3, 50)).toBe(800);
  });

  it("jitters each wait by at most 20% either way", () => {
    const at = (random: number) => afterFailure({ failures: 2, queuedAt: 0, now: 1_000, baseMs: 1_000, random });
    expect(at(0)).toEqual({ retryAt: 1_000 + 4_000 * (1 - JITTER) });
    expect(at(0.999_999)).toEqual({ retryAt: Math.round(1_000 + 4_000 * (1 + JITTER)) });
  });

  it("never schedules past the window, and dead-letters once the window is over", () => {
    const window = 5_000 * RETRY_WINDOW_MULTIPLE;
    expect(afterFailure({ failures: 9, queuedAt: 0, now: window - 10, baseMs: 5_000, random: 0.5 })).toEqual({ retryAt: window });
    expect(afterFailure({ failures: 10, queuedAt: 0, now: window, baseMs: 5_000, random: 0.5 })).toEqual({ deadLetter: true });
    // An event that waited its whole window behind an earlier one gets one attempt, then goes.
    expect(afterFailure({ failures: 1, queuedAt: 0, now: window + 1, baseMs: 5_000, random: 0.5 })).toEqual({ deadLetter: true });
  });
});
