import * as v from "valibot";
import type { Identity } from "../auth/jwt";
import { fail, HubError, type Outcome, ok } from "../errors";
import { parseFrame } from "../hub/frames";
import { type Attachment, type ComponentSchema, Hub, type Refusal } from "../hub/hub";
import type { Timer } from "../hub/timers";
import { log } from "../log";
import {
  CloseCode,
  FINAL_JOB_STATUSES,
  JobEvent,
  type JobEventType,
  type JobStage,
  type JobStatus,
  type JobView,
  type PlannedData,
  STALLED_ERROR_CODE,
  WebhookEvent,
} from "../protocol";
import type { JobSpec, JobUpdate } from "../schemas";
import { stableStringify } from "../stable-json";
import type { MemberReport } from "./batch-report";
import { etaFrom, JobTimer, nextStageIndex, type StageCursor } from "./job-plan";

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

/** The parts of the creating body the timers read. */
type JobPlan = Pick<JobSpec, "stages" | "stall_timeout_s" | "ttl_s">;

/** A failed batch report is sent again after this. */
const BATCH_RETRY_MS = 5_000;

/** How long a producer's event_id is remembered for dedupe. */
const EVENT_ID_MEMORY_MS = 7 * 24 * 3600 * 1000;

const CancelFrame = v.object({ type: v.literal("cancel"), ref: v.optional(v.union([v.string(), v.number()])) });

function isFinal(status: JobStatus): boolean {
  return FINAL_JOB_STATUSES.includes(status);
}

/** One job: its state and event log in SQLite, and every socket watching it. */
export class JobHub extends Hub<JobView | null> {
  private record: JobRecord | null | undefined;
  private flushing: Promise<void> | null = null;
  private flushAgain = false;

  protected schema(): ComponentSchema {
    return {
      component: "job",
      steps: [
        "CREATE TABLE job (id TEXT PRIMARY KEY, spec TEXT NOT NULL, viewers TEXT NOT NULL, view TEXT NOT NULL)",
        "CREATE TABLE producer_events (event_id TEXT PRIMARY KEY, response TEXT NOT NULL, at INTEGER NOT NULL)",
        // The batches this job reports to, and the last job seq each has been sent.
        "CREATE TABLE job_batches (batch_id TEXT PRIMARY KEY, sent_seq INTEGER NOT NULL)",
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

  private planOf(record: JobRecord): JobPlan {
    const { stages, stall_timeout_s, ttl_s } = JSON.parse(record.spec) as JobSpec;
    return { stages, stall_timeout_s, ttl_s };
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
    if (spec.webhook_url !== undefined) this.webhooks.configure(spec.webhook_url);
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
    const plan = this.planOf(job);
    // A producer event re-plans what is left of the stages from now, and re-arms the watchdog.
    if (next.status === "running" && !next.cancel_requested) {
      const eta = this.replan(plan.stages, next);
      if (update.eta_ms === undefined && eta !== undefined) next.eta_ms = eta;
      if (plan.stall_timeout_s !== undefined) this.timers.set(JobTimer.Stall, this.now() + plan.stall_timeout_s * 1000);
    }
    let seq = this.log.lastSeq;
    if (update.data !== undefined || changed(job.view, next)) {
      next.updated_at = new Date(this.now()).toISOString();
      this.save({ ...job, view: next });
      seq = this.publish(eventTypeFor(next.status), update.data === undefined ? next : { ...next, data: update.data }).seq;
      this.afterChange(job.view, next);
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

  protected override onClientFrame(ws: WebSocket, from: Attachment, frame: unknown): void {
    const { ref } = parseFrame(CancelFrame, frame);
    const job = this.job;
    if (!job) throw new HubError("not_found", "job not found");
    if (job.view.owner !== from.user.id) throw new HubError("forbidden", "only the job's owner may cancel it");
    if (isFinal(job.view.status)) throw new HubError("job_finished", `job is ${job.view.status}`);
    if (!job.view.cancel_requested) {
      const view: JobView = { ...job.view, cancel_requested: true, updated_at: new Date(this.now()).toISOString() };
      this.save({ ...job, view });
      this.publish(JobEvent.Update, view);
      // The backend hears of it now, not at its next POST (a stage may run for minutes).
      this.webhooks.queue(WebhookEvent.CancelRequested, { job: view, by: from.user });
      // The producer decides when the job ends; the plan stops pretending it progresses.
      this.timers.clear(JobTimer.Stage);
    }
    this.ack(ws, ref);
  }

  /** Called by a batch when it is created: remember it, and answer the state to count. */
  joinBatch(batchId: string): Outcome<MemberReport> {
    const job = this.job;
    if (!job) return fail("not_found", `job not found`);
    this.sql.exec("INSERT INTO job_batches (batch_id, sent_seq) VALUES (?, ?) ON CONFLICT(batch_id) DO NOTHING", batchId, this.log.lastSeq);
    return ok(this.memberReport(job));
  }

  protected override onTimer(timer: Timer): void | Promise<void> {
    switch (timer.name) {
      case JobTimer.Stage:
        return this.playStage(timer as Timer<StageCursor>);
      case JobTimer.Stall:
        return this.stall();
      case JobTimer.Expire:
        return this.wipe("job expired");
      case JobTimer.BatchReport:
        return this.flushBatchReports();
      default:
        return super.onTimer(timer);
    }
  }

  protected override onWiped(): void {
    this.record = undefined;
  }

  /** Points the stage timer at the next stage still ahead; answers the plan's eta. */
  private replan(stages: JobStage[] | undefined, view: JobView): number | undefined {
    if (!stages) return undefined;
    const index = nextStageIndex(stages, view);
    const stage = stages[index];
    if (!stage) {
      this.timers.clear(JobTimer.Stage);
      return undefined;
    }
    this.timers.set(JobTimer.Stage, this.now() + stage.duration_ms, { index } satisfies StageCursor);
    return etaFrom(stages, index);
  }

  /** Emits one planned stage and sets the next one, timed from this one's due time (no drift). */
  private playStage(timer: Timer<StageCursor>): void {
    const job = this.job;
    if (job?.view.status !== "running" || job.view.cancel_requested) return;
    const stages = this.planOf(job).stages ?? [];
    const { index } = timer.payload;
    const stage = stages[index];
    if (!stage) return;
    const view: JobView = {
      ...job.view,
      stage: stage.name,
      progress: Math.max(job.view.progress, stage.progress),
      eta_ms: etaFrom(stages, index + 1),
      updated_at: new Date(this.now()).toISOString(),
    };
    this.save({ ...job, view });
    this.publish(JobEvent.Update, { ...view, data: { planned: true } satisfies PlannedData });
    const next = stages[index + 1];
    if (next) this.timers.set(JobTimer.Stage, timer.due + next.duration_ms, { index: index + 1 } satisfies StageCursor);
    this.afterChange(job.view, view);
  }

  /** The watchdog: a running job with no producer event for stall_timeout_s fails. */
  private stall(): void {
    const job = this.job;
    if (job?.view.status !== "running") return;
    const seconds = this.planOf(job).stall_timeout_s ?? 0;
    const view: JobView = {
      ...job.view,
      status: "failed",
      error: { code: STALLED_ERROR_CODE, message: `no producer event for ${seconds} s while running` },
      updated_at: new Date(this.now()).toISOString(),
    };
    this.save({ ...job, view });
    this.publish(JobEvent.Failed, view);
    this.webhooks.queue(WebhookEvent.Stalled, { job: view });
    this.afterChange(job.view, view);
  }

  /** Timers that follow from a change of state: the end of a job stops its plan and starts its expiry. */
  private afterChange(before: JobView, after: JobView): void {
    const job = this.job as JobRecord;
    if (isFinal(after.status)) {
      this.timers.clear(JobTimer.Stage);
      this.timers.clear(JobTimer.Stall);
      this.timers.set(JobTimer.Expire, this.now() + (this.planOf(job).ttl_s ?? this.config.jobTtlMs / 1000) * 1000);
    }
    if (before.status !== after.status || before.progress !== after.progress) this.scheduleBatchReport(isFinal(after.status));
  }

  private memberReport(job: JobRecord): MemberReport {
    return { job_id: job.view.id, seq: this.log.lastSeq, status: job.view.status, progress: job.view.progress };
  }

  /**
   * Progress reaches batches at most once per BATCH_REPORT_INTERVAL_MS, through a timer
   * that carries the latest state when it fires; a final state goes at once (with the
   * timer kept as the retry).
   */
  private scheduleBatchReport(final: boolean): void {
    const batches = this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM job_batches").one().n;
    if (batches === 0) return;
    const now = this.now();
    if (final) {
      this.timers.set(JobTimer.BatchReport, now + BATCH_RETRY_MS);
      this.flushBatchReports().catch((err) => log("batch.report_failed", { channel: this.channel, error: String(err) }));
      return;
    }
    const last = Number(this.log.readMeta("batch_reported_at") ?? 0);
    this.timers.setIfAbsent(JobTimer.BatchReport, Math.max(now, last + this.config.batchReportMs));
  }

  /** One flush at a time: a call during a flush makes it go round once more instead of racing it. */
  private flushBatchReports(): Promise<void> {
    if (this.flushing) {
      this.flushAgain = true;
      return this.flushing;
    }
    this.flushing = (async () => {
      do {
        this.flushAgain = false;
        await this.sendBatchReports();
      } while (this.flushAgain);
    })().finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  private async sendBatchReports(): Promise<void> {
    const job = this.job;
    if (!job) return;
    const report = this.memberReport(job);
    const due = this.sql.exec<{ batch_id: string }>("SELECT batch_id FROM job_batches WHERE sent_seq < ?", report.seq).toArray();
    let failed = false;
    await Promise.all(
      due.map(async ({ batch_id }) => {
        try {
          const outcome = await this.env.BATCH_HUB.getByName(batch_id).memberChanged(report);
          if (outcome.ok) {
            this.sql.exec("UPDATE job_batches SET sent_seq = MAX(sent_seq, ?) WHERE batch_id = ?", report.seq, batch_id);
          } else if (outcome.error.code === "not_found") {
            // A batch that was never created (or has expired) stops hearing from us.
            this.sql.exec("DELETE FROM job_batches WHERE batch_id = ?", batch_id);
          } else failed = true;
        } catch (err) {
          failed = true;
          log("batch.report_failed", { channel: this.channel, batch: batch_id, error: String(err) });
        }
      }),
    );
    if (!this.job) return; // wiped while we waited
    this.log.writeMeta("batch_reported_at", String(this.now()));
    const pending = this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM job_batches WHERE sent_seq < ?", this.log.lastSeq).one().n;
    if (failed) this.timers.set(JobTimer.BatchReport, this.now() + BATCH_RETRY_MS);
    else if (pending === 0) this.timers.clear(JobTimer.BatchReport);
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
