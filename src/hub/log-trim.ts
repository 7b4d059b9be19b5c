// Age-based trimming of the event log (LOG_MAX_AGE_S), on the hub's one alarm. The count
// bound is the log's own (EventLog.append); this drops what is too old to replay.
import type { EventLog } from "./event-log";
import type { Timers } from "./timers";

export const TRIM_TIMER = "trim";

export class LogTrimmer {
  constructor(
    private readonly events: EventLog,
    private readonly timers: Timers,
    private readonly maxAgeMs: number,
  ) {
    timers.mayGiveUp(TRIM_TIMER, { afterAttempts: 5, why: "the next logged event sets the trim timer again" });
  }

  /** After an event logged at `at`: a trim is due once it is too old (unless one is due sooner). */
  noteAppend(at: number): void {
    this.timers.setIfAbsent(TRIM_TIMER, at + this.maxAgeMs + this.slack());
  }

  /** The trim timer fired: drop old events, and come back for the oldest one left. */
  run(now: number): void {
    this.events.trimBefore(now - this.maxAgeMs);
    const oldest = this.events.oldestTrimmableAt();
    if (oldest !== null) this.timers.set(TRIM_TIMER, oldest + this.maxAgeMs + this.slack());
  }

  /** Lets trims batch up: about ten per max age at most, and never more than an hour late. */
  private slack(): number {
    return Math.min(Math.floor(this.maxAgeMs / 10), 3_600_000);
  }
}
