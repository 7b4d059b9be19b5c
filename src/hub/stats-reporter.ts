// Coalesced stats reporting: a hub's counter deltas go to the global StatsHub at most once
// per REPORT_EVERY_MS, never once per event. Deltas held back by coalescing are flushed by
// a timer, so a burst followed by quiet is still counted.
import { log } from "../log";
import { type ChannelCounters, REPORT_EVERY_MS } from "./counters";
import type { Timers } from "./timers";

export const STATS_TIMER = "stats";

export class StatsReporter {
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
      this.env.STATS_HUB.getByName("global")
        .report(decision.report)
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
