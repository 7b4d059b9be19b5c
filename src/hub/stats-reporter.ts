// Coalesced stats reporting: a hub's counter deltas go to the channel's stats shard at most once
// per REPORT_EVERY_MS, never once per event. Deltas held back by coalescing are flushed by
// a timer, so a burst followed by quiet is still counted.
import { readConfig } from "../config";
import { log } from "../log";
import { statsShardFor } from "../stats/totals";
import { type ChannelCounters, REPORT_EVERY_MS } from "./counters";
import type { Timers } from "./timers";

export const STATS_TIMER = "stats";

export class StatsReporter {
  /** Which object of its channel reports: 0 for the channel's own, n for its shard n (rooms). */
  part = 0;

  constructor(
    private readonly ctx: DurableObjectState,
    private readonly env: Env,
    private readonly counters: ChannelCounters,
    private readonly timers: Timers,
  ) {
    timers.mayGiveUp(STATS_TIMER, { afterAttempts: 5, why: "held-back deltas stay stored and go out with the channel's next report" });
  }

  /** Reports now if allowed (or `force`), else makes sure the timer will. Fire and forget. */
  report(channel: string, openSockets: () => number, now: number, force: boolean): void {
    const decision = this.counters.decide(channel, openSockets, now, force);
    if (!decision) return;
    if ("laterAt" in decision) {
      this.timers.setIfAbsent(STATS_TIMER, decision.laterAt);
      return;
    }
    const { delta } = decision.report;
    this.ctx.waitUntil(
      statsShardFor(this.env, channel, readConfig(this.env).statsShards)
        .report(this.part === 0 ? decision.report : { ...decision.report, part: this.part })
        .then(
          () => this.counters.acknowledged(delta),
          (err: unknown) => {
            this.counters.notAcknowledged();
            // Deltas are stored: the timer brings them back with the next report.
            this.timers.setIfAbsent(STATS_TIMER, now + REPORT_EVERY_MS);
            log("stats.report_failed", { channel, error: String(err) });
          },
        ),
    );
  }
}
