// A job's reports to the batches it belongs to. Progress goes at most once per
// BATCH_REPORT_INTERVAL_MS, through a timer that carries the latest state when it fires;
// a final state goes at once, with the timer kept as its retry. Each batch row remembers
// the last job seq it was sent, so nothing is sent twice and a failure is retried.
import type { EventLog } from "../hub/event-log";
import { SingleFlight } from "../hub/single-flight";
import type { Timers } from "../hub/timers";
import { log } from "../log";
import type { JobStatus, JobView } from "../protocol";
import { JobTimer } from "./job-plan";

/**
 * What a member job tells its batch; `seq` (the job's log seq) orders reports. `gen` is
 * the generation of the membership the job holds: a batch created again under the same id
 * has a new one, so a report (or a reply) meant for the old batch cannot touch the new.
 */
export interface MemberReport {
  job_id: string;
  seq: number;
  status: JobStatus;
  progress: number;
  gen?: string;
}

/** What a job in state `view` as of its log's `seq` tells its batches. */
export function memberReport(view: JobView, seq: number): MemberReport {
  return { job_id: view.id, seq, status: view.status, progress: view.progress };
}

/** The batches a job reports to, and the last job seq each has been sent (a step of the job's schema). */
export const JOB_BATCHES_TABLE = "CREATE TABLE job_batches (batch_id TEXT PRIMARY KEY, sent_seq INTEGER NOT NULL)";
/** The membership's generation: a reply about an earlier batch of the same id must not touch it. */
export const JOB_BATCHES_GENERATION = "ALTER TABLE job_batches ADD COLUMN gen TEXT";

/** A failed final report is first tried again after this; then the timer's lease backs off. */
const BATCH_RETRY_MS = 5_000;

export interface OutboxContext {
  sql: SqlStorage;
  timers: Timers;
  events: EventLog;
  env: Env;
  intervalMs: number;
  now(): number;
  /** The job's state to report now, or null once it is gone. */
  current(): MemberReport | null;
}

export class BatchOutbox {
  private readonly reports = new SingleFlight(() => this.send());
  /** Whether the job belongs to any batch, read once: most jobs belong to none, and every change asks. */
  private inBatches: boolean | undefined;

  constructor(private readonly job: OutboxContext) {}

  /** A batch (generation `gen`) was created with this job: it has been told the state as of `seq`. */
  join(batchId: string, gen: string, seq: number): void {
    this.job.sql.exec(
      "INSERT INTO job_batches (batch_id, sent_seq, gen) VALUES (?, ?, ?) ON CONFLICT(batch_id) DO UPDATE SET sent_seq = excluded.sent_seq, gen = excluded.gen WHERE gen IS NOT excluded.gen",
      batchId,
      seq,
      gen,
    );
    this.inBatches = true;
  }

  /** After a wipe: the table is gone, and nothing read from it holds. */
  forget(): void {
    this.inBatches = undefined;
  }

  /** The job's status or progress changed. */
  schedule(final: boolean): void {
    const { sql, timers, events } = this.job;
    this.inBatches ??= sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM job_batches").one().n > 0;
    if (!this.inBatches) return;
    const now = this.job.now();
    if (final) {
      timers.set(JobTimer.BatchReport, now + BATCH_RETRY_MS);
      this.flush().catch((err) => log("batch.report_failed", { channel: events.channel, error: String(err) }));
      return;
    }
    const last = Number(events.readMeta("batch_reported_at") ?? 0);
    timers.setIfAbsent(JobTimer.BatchReport, Math.max(now, last + this.job.intervalMs));
  }

  /** One flush at a time: a call during a flush makes it go round once more instead of racing it. */
  flush(): Promise<void> {
    return this.reports.run();
  }

  private async send(): Promise<void> {
    const { sql, timers, events, env } = this.job;
    const report = this.job.current();
    if (!report) return;
    const due = sql
      .exec<{ batch_id: string; gen: string | null }>("SELECT batch_id, gen FROM job_batches WHERE sent_seq < ?", report.seq)
      .toArray();
    let failed = false;
    await Promise.all(
      due.map(async ({ batch_id, gen }) => {
        try {
          const outcome = await env.BATCH_HUB.getByName(batch_id).memberChanged({ ...report, ...(gen === null ? {} : { gen }) });
          // Only the membership this reply is about: the batch may have been created again meanwhile.
          if (outcome.ok) {
            sql.exec("UPDATE job_batches SET sent_seq = MAX(sent_seq, ?) WHERE batch_id = ? AND gen IS ?", report.seq, batch_id, gen);
          } else if (outcome.error.code === "not_found") {
            // A batch that was never created (or has expired) stops hearing from us.
            sql.exec("DELETE FROM job_batches WHERE batch_id = ? AND gen IS ?", batch_id, gen);
            this.inBatches = undefined; // it may have been the last one
          } else failed = true;
        } catch (err) {
          failed = true;
          log("batch.report_failed", { channel: events.channel, batch: batch_id, error: String(err) });
        }
      }),
    );
    if (!this.job.current()) return; // wiped while we waited
    events.writeMeta("batch_reported_at", String(this.job.now()));
    if (failed) {
      // The timer is the retry: from a timer run, the throw makes its lease back off.
      timers.setIfAbsent(JobTimer.BatchReport, this.job.now() + BATCH_RETRY_MS);
      throw new Error("a batch report failed; it is retried");
    }
    if (!this.unsent()) timers.clear(JobTimer.BatchReport);
  }

  /** Whether some batch has not yet acknowledged the job's latest state. */
  unsent(): boolean {
    return (
      this.job.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM job_batches WHERE sent_seq < ?", this.job.events.lastSeq).one().n > 0
    );
  }
}
