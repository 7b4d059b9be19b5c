import type { Identity } from "../auth/jwt";
import { fail, HubError, type Outcome, ok } from "../errors";
import type { Attachment, Refusal } from "../hub/connections";
import { Hub } from "../hub/hub";
import type { ClientFrame } from "../hub/intake";
import type { ComponentSchema } from "../hub/migrations";
import type { Timer } from "../hub/timers";
import { log } from "../log";
import {
  CloseCode,
  JobEvent,
  type JobEvents,
  type JobEventType,
  type JobView,
  type Json,
  type PlannedData,
  WebhookEvent,
} from "../protocol";
import { CancelFrame, type JobSpec, type JobUpdate } from "../schemas";
import { stableStringify } from "../stable-json";
import { parseWith } from "../validation";
import { BatchOutbox, type MemberReport } from "./batch-outbox";
import { EXPIRY_HOLD_MAX_MS, type ExpiryPlan, etaFrom, JobTimer, nextStageIndex, STAGE_GIVE_UP, type StageCursor } from "./job-plan";
import { JOB_SCHEMA, type JobPlan, type JobRecord, JobRecords, type JobState, mayWatch, type ReportResult } from "./job-record";
import {
  applyUpdate,
  eventTypeFor,
  isFinal,
  lifetimeExceeded,
  newJobView,
  playedStage,
  requestCancel,
  stalled,
  viewChanged,
  watched,
} from "./job-state";

/**
 * One job: its state and event log in SQLite, and every socket watching it. The state
 * machine is job-state.ts; reports to batches go through the BatchOutbox.
 */
export class JobHub extends Hub<JobView | null, JobEvents> {
  private readonly records = new JobRecords(this.sql, this.events);
  private readonly outbox = new BatchOutbox({
    sql: this.sql,
    timers: this.timers,
    events: this.events,
    env: this.env,
    intervalMs: this.config.batchReportMs,
    now: () => this.now(),
    current: () => (this.job ? this.memberReport(this.job) : null),
  });

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.timers.mayGiveUp(JobTimer.Stage, STAGE_GIVE_UP);
  }

  protected schema(): ComponentSchema {
    return JOB_SCHEMA;
  }

  private get job(): JobRecord | null {
    return this.stored ? this.records.current() : null;
  }

  /**
   * The one way a job's view changes: it is published as an event (the producer's `data`
   * riding along), and that logged event is where the view is stored (JobRecords).
   */
  private change(job: JobRecord, view: JobView, type: JobEventType, data?: Json): number {
    const { seq } = this.publish(type, data === undefined ? view : { ...view, data });
    this.records.changed({ ...job, view });
    return seq;
  }

  private stateOf(record: JobRecord): JobState {
    return { ...record.view, viewers: record.viewers, seq: this.events.lastSeq };
  }

  private nowIso(): string {
    return new Date(this.now()).toISOString();
  }

  /** POST /v1/jobs. Same id and body again answers the job as it is now. */
  createJob(spec: JobSpec & { id: string }): Outcome<{ created: boolean; job: JobState }> {
    const canonical = stableStringify(spec);
    const existing = this.job;
    if (existing) {
      if (existing.spec !== canonical) return fail("conflict", `job ${spec.id} exists with a different body`);
      return ok({ created: false, job: this.stateOf(existing) });
    }
    const view = newJobView(spec, this.nowIso());
    const record: JobRecord = { view, viewers: spec.viewers ?? [], spec: canonical };
    this.bindChannel(`job:${spec.id}`);
    this.records.create(record);
    this.timers.set(JobTimer.Lifetime, this.now() + this.config.jobMaxLifetimeMs);
    if (spec.webhook_url !== undefined) this.webhooks.configure(spec.webhook_url);
    this.change(record, view, JobEvent.Created);
    return ok({ created: true, job: this.stateOf(record) });
  }

  /** POST /v1/jobs/:id/events. Everything below is synchronous, so it commits as one. */
  report(update: JobUpdate): Outcome<ReportResult> {
    const job = this.job;
    if (!job) return fail("not_found", "job not found");
    if (update.event_id !== undefined) {
      const seen = this.eventIds.recall<ReportResult>(update.event_id);
      if (seen) return ok({ ...seen, duplicate: true });
    }
    if (isFinal(job.view.status)) return fail("job_finished", `job is ${job.view.status}; it takes no more updates`);

    const next = applyUpdate(job.view, update);
    const plan = this.records.planOf(job);
    // A producer event re-plans what is left of the stages from now (unless the owner asked
    // to cancel), and re-arms the watchdog (whether or not they did: the producer is alive).
    if (next.status === "running" && !next.cancel_requested) {
      const eta = this.replan(plan, next);
      if (update.eta_ms === undefined && eta !== undefined) next.eta_ms = eta;
    }
    if (watched(next)) this.armWatchdog(plan);
    let seq = this.events.lastSeq;
    if (update.data !== undefined || viewChanged(job.view, next)) {
      next.updated_at = this.nowIso();
      seq = this.change(job, next, eventTypeFor(next.status), update.data);
      this.afterChange(job.view, next);
    }
    const result: ReportResult = { seq, state: this.stateOf(this.job as JobRecord), cancel_requested: next.cancel_requested };
    if (update.event_id !== undefined) this.eventIds.remember(update.event_id, result, this.now());
    return ok(result);
  }

  /** POST /v1/jobs/events: this job's items of a bulk request, in order, each as report() would answer it. */
  reportMany(updates: JobUpdate[]): Outcome<Outcome<ReportResult>[]> {
    return ok(updates.map((update) => this.report(update)));
  }

  /** GET /v1/jobs/:id. `viewer` is null for producers, who may read any job. */
  read(viewer: Identity | null): Outcome<JobState | JobView> {
    const job = this.job;
    if (!job) return fail("not_found", "job not found");
    if (viewer === null) return ok(this.stateOf(job));
    // A stranger hears exactly what an unknown id answers: ids cannot be probed.
    if (!mayWatch(job, viewer.id)) return fail("not_found", "job not found");
    return ok(job.view);
  }

  /**
   * Called by a batch when it is created: remember it, and answer the state to count.
   * Idempotent for one generation of the batch; a new generation replaces the membership.
   */
  joinBatch(batchId: string, gen: string): Outcome<MemberReport> {
    const job = this.job;
    if (!job) return fail("not_found", "job not found");
    this.outbox.join(batchId, gen, this.events.lastSeq);
    return ok(this.memberReport(job));
  }

  protected admit(identity: Identity): Refusal | null {
    const job = this.job;
    if (!job) return { code: CloseCode.NotFound, reason: "job not found" };
    if (!mayWatch(job, identity.id)) return { code: CloseCode.NotFound, reason: "job not found" };
    return null;
  }

  protected snapshot(): JobView | null {
    return this.job?.view ?? null;
  }

  protected override onClientFrame(ws: WebSocket, from: Attachment, frame: ClientFrame): void | Promise<void> {
    if (frame.type !== "cancel") return super.onClientFrame(ws, from, frame);
    const { ref } = parseWith(CancelFrame, frame);
    const job = this.job;
    if (!job) throw new HubError("not_found", "job not found");
    if (job.view.owner !== from.user.id) throw new HubError("forbidden", "only the job's owner may cancel it");
    if (isFinal(job.view.status)) throw new HubError("job_finished", `job is ${job.view.status}`);
    if (!job.view.cancel_requested) {
      const view = requestCancel(job.view, this.nowIso());
      this.change(job, view, JobEvent.Update);
      // The backend hears of it now, not at its next POST (a stage may run for minutes).
      this.webhooks.queue(WebhookEvent.CancelRequested, { job: view, by: from.user });
      // The producer decides when the job ends; the plan stops pretending it progresses.
      this.timers.clear(JobTimer.Stage);
      // A queued job had no watchdog yet: a producer that died must not leave it waiting forever.
      if (view.status === "queued") this.armWatchdog(this.records.planOf(job));
    }
    this.ack(ws, ref);
  }

  protected override onTimer(timer: Timer): void | Promise<void> {
    switch (timer.name) {
      case JobTimer.Stage:
        return this.playStage(timer as Timer<StageCursor>);
      case JobTimer.Stall:
        return this.stall();
      case JobTimer.Expire:
        return this.expire(timer as Timer<ExpiryPlan | undefined>);
      case JobTimer.Lifetime:
        return this.endLifetime();
      case JobTimer.BatchReport:
        return this.outbox.flush();
      default:
        return super.onTimer(timer);
    }
  }

  protected override onWiped(): void {
    this.records.forget();
    this.outbox.forget();
  }

  /** Points the stage timer at the next stage still ahead; answers the plan's eta. */
  private replan({ stages }: JobPlan, view: JobView): number | undefined {
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
    const stages = this.records.planOf(job).stages ?? [];
    const { index } = timer.payload;
    const view = playedStage(job.view, stages, index, this.nowIso());
    if (!view) return;
    this.change(job, view, JobEvent.Update, { planned: true } satisfies PlannedData);
    const next = stages[index + 1];
    if (next) this.timers.set(JobTimer.Stage, timer.due + next.duration_ms, { index: index + 1 } satisfies StageCursor);
    this.afterChange(job.view, view);
  }

  private armWatchdog(plan: JobPlan): void {
    if (plan.stall_timeout_s !== undefined) this.timers.set(JobTimer.Stall, this.now() + plan.stall_timeout_s * 1000);
  }

  /** The watchdog: a watched job (see watched()) with no producer event for stall_timeout_s fails. */
  private stall(): void {
    const job = this.job;
    if (!job || !watched(job.view)) return;
    const view = stalled(job.view, this.records.planOf(job).stall_timeout_s ?? 0, this.nowIso());
    this.change(job, view, JobEvent.Failed);
    this.webhooks.queue(WebhookEvent.Stalled, { job: view });
    this.afterChange(job.view, view);
  }

  /** Timers that follow from a change of state: the end of a job stops its plan and starts its expiry. */
  private afterChange(before: JobView, after: JobView): void {
    const job = this.job as JobRecord;
    if (isFinal(after.status)) {
      this.timers.clear(JobTimer.Stage);
      this.timers.clear(JobTimer.Stall);
      this.timers.clear(JobTimer.Lifetime);
      const planned = this.now() + (this.records.planOf(job).ttl_s ?? this.config.jobTtlMs / 1000) * 1000;
      this.timers.set(JobTimer.Expire, planned, { planned } satisfies ExpiryPlan);
    }
    if (before.status !== after.status || before.progress !== after.progress) this.outbox.schedule(isFinal(after.status));
  }

  /**
   * Expiry waits for the batches: while one has not acknowledged the job's final state,
   * the job flushes first and, failing that, throws so the timer's lease brings it back
   * with backoff, for at most EXPIRY_HOLD_MAX_MS past the planned time.
   */
  private async expire(timer: Timer<ExpiryPlan | undefined>): Promise<void> {
    const planned = timer.payload?.planned ?? timer.due;
    if (this.outbox.unsent() && this.now() < planned + EXPIRY_HOLD_MAX_MS) {
      await this.outbox.flush().catch(() => {}); // logged by the outbox
      if (this.outbox.unsent()) throw new Error("batch reports unsent: expiry held back");
    }
    if (this.outbox.unsent()) log("job.expired_unreported", { channel: this.channel, held_ms: this.now() - planned });
    await this.wipe("job expired");
  }

  /** JOB_MAX_LIFETIME_S after creation: a job still not final fails, and expires like any other. */
  private endLifetime(): void {
    const job = this.job;
    if (!job || isFinal(job.view.status)) return;
    const view = lifetimeExceeded(job.view, this.config.jobMaxLifetimeMs, this.nowIso());
    this.change(job, view, JobEvent.Failed);
    this.afterChange(job.view, view);
  }

  private memberReport(job: JobRecord): MemberReport {
    return { job_id: job.view.id, seq: this.events.lastSeq, status: job.view.status, progress: job.view.progress };
  }
}
