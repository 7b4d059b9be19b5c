// A job's one row: its view (what subscribers see), its viewers, and the creating body,
// read once per instance and cached, since every request and timer of the job reads it.
import type { JobView } from "../protocol";
import type { JobSpec } from "../schemas";

export const JOB_TABLE = "CREATE TABLE job (id TEXT PRIMARY KEY, spec TEXT NOT NULL, viewers TEXT NOT NULL, view TEXT NOT NULL)";

export interface JobRecord {
  view: JobView;
  viewers: string[];
  /** The creating body, canonical, to tell a retry (200) from a clash (409). */
  spec: string;
}

/** The parts of the creating body the timers read. */
export type JobPlan = Pick<JobSpec, "stages" | "stall_timeout_s" | "ttl_s">;

function parsePlan(spec: string): JobPlan {
  const { stages, stall_timeout_s, ttl_s } = JSON.parse(spec) as JobSpec;
  return { stages, stall_timeout_s, ttl_s };
}

/** Who may watch or read a job: its owner and its viewers. */
export function mayWatch(job: JobRecord, userId: string): boolean {
  return job.view.owner === userId || job.viewers.includes(userId);
}

export class JobRecords {
  private cached: JobRecord | null | undefined;
  /** The creating body never changes, so its plan is parsed once, not on every update. */
  private planned: { spec: string; plan: JobPlan } | undefined;

  constructor(private readonly sql: SqlStorage) {}

  /** The job, or null when there is none (never created, or expired). */
  current(): JobRecord | null {
    if (this.cached === undefined) {
      const row = this.sql.exec<{ spec: string; viewers: string; view: string }>("SELECT spec, viewers, view FROM job").toArray()[0];
      this.cached = row ? { spec: row.spec, viewers: JSON.parse(row.viewers), view: JSON.parse(row.view) } : null;
    }
    return this.cached;
  }

  save(record: JobRecord): void {
    this.sql.exec(
      "INSERT INTO job (id, spec, viewers, view) VALUES (?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET view = excluded.view",
      record.view.id,
      record.spec,
      JSON.stringify(record.viewers),
      JSON.stringify(record.view),
    );
    this.cached = record;
  }

  /** The parts of the job's creating body the timers read. */
  planOf(record: JobRecord): JobPlan {
    if (this.planned?.spec !== record.spec) this.planned = { spec: record.spec, plan: parsePlan(record.spec) };
    return this.planned.plan;
  }

  /** After the storage was wiped. */
  forget(): void {
    this.cached = undefined;
    this.planned = undefined;
  }
}
