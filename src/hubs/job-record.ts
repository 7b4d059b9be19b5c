// A job: its creating body and viewers (its one row), and its view (what subscribers see),
// which is the data of the job's newest logged event. Read once per instance and cached,
// since every request and timer of the job reads it.
import { moveIntoEventIds } from "../hub/event-ids";
import type { EventLog } from "../hub/event-log";
import type { ComponentSchema } from "../hub/migrations";
import type { JobEventData, JobView } from "../protocol";
import type { JobSpec } from "../schemas";
import { JOB_BATCHES_GENERATION, JOB_BATCHES_TABLE } from "./batch-outbox";

/** A job hub's own tables (the base adds the event log, timers, counters, event_ids). */
export const JOB_SCHEMA: ComponentSchema = {
  component: "job",
  steps: [
    "CREATE TABLE job (id TEXT PRIMARY KEY, spec TEXT NOT NULL, viewers TEXT NOT NULL, view TEXT NOT NULL)",
    // Superseded by the shared event_ids table (moved there by moveIntoEventIds below).
    "CREATE TABLE producer_events (event_id TEXT PRIMARY KEY, response TEXT NOT NULL, at INTEGER NOT NULL)",
    JOB_BATCHES_TABLE,
    ...moveIntoEventIds("producer_events", "response"),
    JOB_BATCHES_GENERATION,
    // The view is the data of the job's newest event, which the log always keeps (trimming
    // and the retention bound never drop the newest row): storing it again in the job row
    // was a second write on every publish. Stored objects have it there already: every
    // change of the view was logged in the same synchronous step that wrote the row.
    "ALTER TABLE job DROP COLUMN view",
  ],
};

export interface JobRecord {
  view: JobView;
  viewers: string[];
  /** The creating body, canonical, to tell a retry (200) from a clash (409). */
  spec: string;
}

/** What producers see of a job: the subscriber view plus who may watch it. */
export type JobState = JobView & { viewers: string[]; seq: number };

export interface ReportResult {
  seq: number;
  state: JobState;
  cancel_requested: boolean;
  duplicate?: true;
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

  constructor(
    private readonly sql: SqlStorage,
    private readonly events: EventLog,
  ) {}

  /** The job, or null when there is none (never created, or expired). */
  current(): JobRecord | null {
    if (this.cached === undefined) {
      const row = this.sql.exec<{ spec: string; viewers: string }>("SELECT spec, viewers FROM job").toArray()[0];
      const last = row && this.events.lastData<JobEventData>();
      this.cached = row && last ? { spec: row.spec, viewers: JSON.parse(row.viewers), view: viewOf(last) } : null;
    }
    return this.cached;
  }

  /** A new job's row; its view is stored by the job:created event that must follow. */
  create(record: JobRecord): void {
    this.sql.exec("INSERT INTO job (id, spec, viewers) VALUES (?, ?, ?)", record.view.id, record.spec, JSON.stringify(record.viewers));
  }

  /** The job's view after an event carrying it was logged (see JobHub.change). */
  changed(record: JobRecord): void {
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

/** A job event's data without the producer's free-form `data`: the job's view. */
function viewOf({ data: _data, ...view }: JobEventData): JobView {
  return view;
}
