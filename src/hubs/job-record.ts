// A job's one row: its view (what subscribers see), its viewers, and the creating body,
// read once per instance and cached, since every request and timer of the job reads it.
import { moveIntoEventIds } from "../hub/event-ids";
import type { ComponentSchema } from "../hub/migrations";
import type { JobView } from "../protocol";
import type { JobSpec } from "../schemas";
import { JOB_BATCHES_GENERATION, JOB_BATCHES_TABLE } from "./batch-outbox";

export const JOB_TABLE = "CREATE TABLE job (id TEXT PRIMARY KEY, spec TEXT NOT NULL, viewers TEXT NOT NULL, view TEXT NOT NULL)";

/** A job hub's tables, step by step (migrations.ts). */
export const JOB_SCHEMA: ComponentSchema = {
  component: "job",
  steps: [
    JOB_TABLE,
    // Superseded by the shared event_ids table (moved by the last two steps).
    "CREATE TABLE producer_events (event_id TEXT PRIMARY KEY, response TEXT NOT NULL, at INTEGER NOT NULL)",
    JOB_BATCHES_TABLE,
    ...moveIntoEventIds("producer_events", "response"),
    JOB_BATCHES_GENERATION,
  ],
};

/** What producers see of a job: the subscriber view plus who may watch it. */
export type JobState = JobView & { viewers: string[]; seq: number };

export interface ReportResult {
  seq: number;
  state: JobState;
  cancel_requested: boolean;
  duplicate?: true;
}

export interface JobRecord {
  view: JobView;
  viewers: string[];
  /** The creating body, canonical, to tell a retry (200) from a clash (409). */
  spec: string;
}

/** The parts of the creating body the timers read. */
export type JobPlan = Pick<JobSpec, "stages" | "stall_timeout_s" | "ttl_s">;

/** The last plan parsed: a job's creating body never changes, so each update need not parse it again. */
let lastPlan: { spec: string; plan: JobPlan } | undefined;

export function planOf(record: JobRecord): JobPlan {
  if (lastPlan?.spec !== record.spec) {
    const { stages, stall_timeout_s, ttl_s } = JSON.parse(record.spec) as JobSpec;
    lastPlan = { spec: record.spec, plan: { stages, stall_timeout_s, ttl_s } };
  }
  return lastPlan.plan;
}

export class JobRecords {
  private cached: JobRecord | null | undefined;

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

  /** After the storage was wiped. */
  forget(): void {
    this.cached = undefined;
  }
}

/** The job's owner and its viewers may watch it and read its streams. */
export function mayWatch(job: JobRecord, userId: string): boolean {
  return job.view.owner === userId || job.viewers.includes(userId);
}
