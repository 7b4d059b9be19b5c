// A batch's member table. A member is `joining` from the moment the batch is written
// until its job has answered the join: a batch with joining members is not finished being
// created, and whoever comes next (a same-body retry, the join timer) finishes the joins.
import type { BatchMember, JobStatus } from "../protocol";
import type { MemberReport } from "./batch-outbox";
import { isFinal } from "./job-state";

export const BATCH_MEMBERS_TABLE =
  "CREATE TABLE members (job_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, status TEXT NOT NULL, progress REAL NOT NULL)";
/** Migration step: rows from before joins were resumable were all joined. */
export const BATCH_MEMBERS_JOINING = "ALTER TABLE members ADD COLUMN joining INTEGER NOT NULL DEFAULT 0";

export interface MemberCounts {
  total: number;
  completed: number;
  failed: number;
  cancelled: number;
  progress: number;
}

type Row = { job_id: string; status: JobStatus; progress: number };

export class BatchMembers {
  constructor(private readonly sql: SqlStorage) {}

  /** Every job of a new batch, joining; seq -1 = state not heard yet. */
  addJoining(jobs: readonly string[]): void {
    for (const job of jobs)
      this.sql.exec("INSERT INTO members (job_id, seq, status, progress, joining) VALUES (?, -1, 'queued', 0, 1)", job);
  }

  joining(): string[] {
    return this.sql
      .exec<{ job_id: string }>("SELECT job_id FROM members WHERE joining = 1 ORDER BY job_id")
      .toArray()
      .map((r) => r.job_id);
  }

  has(jobId: string): boolean {
    return this.sql.exec("SELECT 1 FROM members WHERE job_id = ?", jobId).toArray().length > 0;
  }

  /** The job answered its join with its state: it is a member now. */
  joined(report: MemberReport): void {
    this.record(report);
    this.sql.exec("UPDATE members SET joining = 0 WHERE job_id = ?", report.job_id);
  }

  /** True when the report was newer than what the batch had for that job. */
  record(report: MemberReport): boolean {
    const written = this.sql.exec(
      "UPDATE members SET seq = ?, status = ?, progress = ? WHERE job_id = ? AND seq < ?",
      report.seq,
      report.status,
      report.progress,
      report.job_id,
      report.seq,
    );
    return written.rowsWritten > 0;
  }

  all(): Record<string, BatchMember> {
    return Object.fromEntries(this.rows().map((m) => [m.job_id, { status: m.status, progress: m.progress }]));
  }

  /** Counts by outcome; `progress` is the mean, a final member counting as 100. */
  counts(): MemberCounts {
    const rows = this.rows();
    const count = (status: JobStatus) => rows.filter((m) => m.status === status).length;
    const sum = rows.reduce((total, m) => total + (isFinal(m.status) ? 100 : m.progress), 0);
    return {
      total: rows.length,
      completed: count("completed"),
      failed: count("failed"),
      cancelled: count("cancelled"),
      progress: rows.length === 0 ? 0 : Math.round((sum / rows.length) * 10) / 10,
    };
  }

  private rows(): Row[] {
    return this.sql.exec<Row>("SELECT job_id, status, progress FROM members").toArray();
  }
}
