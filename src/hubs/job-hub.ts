import * as v from "valibot";
import type { Identity } from "../auth/jwt";
import { fail, HubError, type Outcome, ok } from "../errors";
import { type ComponentSchema, Hub, parseFrame, type Refusal } from "../hub/hub";
import { CloseCode, FINAL_JOB_STATUSES, JobEvent, type JobEventType, type JobStatus, type JobView } from "../protocol";
import type { JobSpec, JobUpdate } from "../schemas";
import { stableStringify } from "../stable-json";

/** What producers see of a job: the subscriber view plus who may watch it. */
export type JobState = JobView & { viewers: string[]; seq: number };

export interface ReportResult {
  seq: number;
  state: JobState;
  cancel_requested: boolean;
  duplicate?: true;
}

interface JobRecord {
  view: JobView;
  viewers: string[];
  /** The creating body, canonical, to tell a retry (200) from a clash (409). */
  spec: string;
}

/** How long a producer's event_id is remembered for dedupe. */
const EVENT_ID_MEMORY_MS = 7 * 24 * 3600 * 1000;

const CancelFrame = v.object({ type: v.literal("cancel"), ref: v.optional(v.union([v.string(), v.number()])) });

function isFinal(status: JobStatus): boolean {
  return FINAL_JOB_STATUSES.includes(status);
}

/** One job: its state and event log in SQLite, and every socket watching it. */
export class JobHub extends Hub<JobView | null> {
  private record: JobRecord | null | undefined;

  protected schema(): ComponentSchema {
    return {
      component: "job",
      steps: [
        "CREATE TABLE job (id TEXT PRIMARY KEY, spec TEXT NOT NULL, viewers TEXT NOT NULL, view TEXT NOT NULL)",
        "CREATE TABLE producer_events (event_id TEXT PRIMARY KEY, response TEXT NOT NULL, at INTEGER NOT NULL)",
      ],
    };
  }

  private get job(): JobRecord | null {
    if (this.record === undefined) {
      const row = this.sql.exec<{ spec: string; viewers: string; view: string }>("SELECT spec, viewers, view FROM job").toArray()[0];
      this.record = row ? { spec: row.spec, viewers: JSON.parse(row.viewers), view: JSON.parse(row.view) } : null;
    }
    return this.record;
  }

  private save(record: JobRecord): void {
    this.sql.exec(
      "INSERT INTO job (id, spec, viewers, view) VALUES (?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET view = excluded.view",
      record.view.id,
      record.spec,
      JSON.stringify(record.viewers),
      JSON.stringify(record.view),
    );
    this.record = record;
  }

  private stateOf(record: JobRecord): JobState {
    return { ...record.view, viewers: record.viewers, seq: this.log.lastSeq };
  }

  /** POST /v1/jobs. Same id and body again answers the job as it is now. */
  createJob(spec: JobSpec & { id: string }): Outcome<{ created: boolean; job: JobState }> {
    const canonical = stableStringify(spec);
    const existing = this.job;
    if (existing) {
      if (existing.spec !== canonical) return fail("conflict", `job ${spec.id} exists with a different body`);
      return ok({ created: false, job: this.stateOf(existing) });
    }
    const at = new Date(this.now()).toISOString();
    const view: JobView = {
      id: spec.id,
      owner: spec.owner,
      ...(spec.title !== undefined ? { title: spec.title } : {}),
      status: "queued",
      progress: 0,
      ...(spec.metadata !== undefined ? { metadata: spec.metadata } : {}),
      cancel_requested: false,
      created_at: at,
      updated_at: at,
    };
    const record: JobRecord = { view, viewers: spec.viewers ?? [], spec: canonical };
    this.bindChannel(`job:${spec.id}`);
    this.save(record);
    this.publish(JobEvent.Created, view);
    return ok({ created: true, job: this.stateOf(record) });
  }

  /** POST /v1/jobs/:id/events. Everything below is synchronous, so it commits as one. */
  report(update: JobUpdate): Outcome<ReportResult> {
    const job = this.job;
    if (!job) return fail("not_found", "job not found");
    if (update.event_id !== undefined) {
      const seen = this.sql
        .exec<{ response: string }>("SELECT response FROM producer_events WHERE event_id = ?", update.event_id)
        .toArray()[0];
      if (seen) return ok({ ...(JSON.parse(seen.response) as ReportResult), duplicate: true });
    }
    if (isFinal(job.view.status)) return fail("job_finished", `job is ${job.view.status}; it takes no more updates`);

    const next = applyUpdate(job.view, update);
    let seq = this.log.lastSeq;
    if (update.data !== undefined || changed(job.view, next)) {
      next.updated_at = new Date(this.now()).toISOString();
      this.save({ ...job, view: next });
      seq = this.publish(eventTypeFor(next.status), update.data === undefined ? next : { ...next, data: update.data }).seq;
    }
    const result: ReportResult = { seq, state: this.stateOf(this.job as JobRecord), cancel_requested: next.cancel_requested };
    if (update.event_id !== undefined) {
      const at = this.now();
      this.sql.exec("INSERT INTO producer_events (event_id, response, at) VALUES (?, ?, ?)", update.event_id, JSON.stringify(result), at);
      this.sql.exec("DELETE FROM producer_events WHERE at < ?", at - EVENT_ID_MEMORY_MS);
    }
    return ok(result);
  }

  /** GET /v1/jobs/:id. `viewer` is null for producers, who may read any job. */
  read(viewer: Identity | null): Outcome<JobState | JobView> {
    const job = this.job;
    if (!job) return fail("not_found", "job not found");
    if (viewer === null) return ok(this.stateOf(job));
    if (!this.mayWatch(job, viewer.id)) return fail("forbidden", "not the job's owner or a viewer");
    return ok(job.view);
  }

  private mayWatch(job: JobRecord, userId: string): boolean {
    return job.view.owner === userId || job.viewers.includes(userId);
  }

  protected admit(identity: Identity): Refusal | null {
    const job = this.job;
    if (!job) return { code: CloseCode.NotFound, reason: "job not found" };
    if (!this.mayWatch(job, identity.id)) return { code: CloseCode.Forbidden, reason: "not the job's owner or a viewer" };
    return null;
  }

  protected snapshot(): JobView | null {
    return this.job?.view ?? null;
  }

  protected override onClientFrame(ws: WebSocket, from: { user: { id: string } }, frame: unknown): void {
    const { ref } = parseFrame(CancelFrame, frame);
    const job = this.job;
    if (!job) throw new HubError("not_found", "job not found");
    if (job.view.owner !== from.user.id) throw new HubError("forbidden", "only the job's owner may cancel it");
    if (isFinal(job.view.status)) throw new HubError("job_finished", `job is ${job.view.status}`);
    if (!job.view.cancel_requested) {
      const view: JobView = { ...job.view, cancel_requested: true, updated_at: new Date(this.now()).toISOString() };
      this.save({ ...job, view });
      this.publish(JobEvent.Update, view);
    }
    this.ack(ws, ref);
  }
}

function applyUpdate(view: JobView, update: JobUpdate): JobView {
  const next: JobView = { ...view };
  if (update.status !== undefined) next.status = update.status;
  // Progress never goes backwards: late or reordered producer posts cannot rewind a bar.
  if (update.progress !== undefined) next.progress = Math.max(view.progress, update.progress);
  if (update.stage !== undefined) next.stage = update.stage;
  if (update.message !== undefined) next.message = update.message;
  if (update.eta_ms !== undefined) next.eta_ms = update.eta_ms;
  if (update.result !== undefined) next.result = update.result;
  if (update.error !== undefined) next.error = update.error;
  if (next.status === "completed") {
    next.progress = 100;
    next.eta_ms = 0;
  }
  if (next.status === "failed" && next.error === undefined) {
    next.error = { code: "failed", message: next.message ?? "job failed" };
  }
  return next;
}

function changed(before: JobView, after: JobView): boolean {
  return stableStringify(before) !== stableStringify(after);
}

function eventTypeFor(status: JobStatus): JobEventType {
  switch (status) {
    case "completed":
      return JobEvent.Completed;
    case "failed":
      return JobEvent.Failed;
    case "cancelled":
      return JobEvent.Cancelled;
    default:
      return JobEvent.Update;
  }
}
