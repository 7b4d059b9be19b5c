import type { Identity } from "../auth/jwt";
import { fail, HubError, type Outcome, ok } from "../errors";
import type { Attachment, Refusal } from "../hub/connections";
import { Hub } from "../hub/hub";
import type { ClientFrame } from "../hub/intake";
import type { ComponentSchema } from "../hub/migrations";
import type { Timer } from "../hub/timers";
import { log } from "../log";
import { CloseCode, JobEvent, type JobEvents, type JobView, type PlannedData, WebhookEvent } from "../protocol";
import { CancelFrame, type JobSpec, type JobUpdate } from "../schemas";
import { stableStringify } from "../stable-json";
import { parseWith } from "../validation";
import { BatchOutbox, type MemberReport, memberReport } from "./batch-outbox";
import { type BulkReportResult, forBulk } from "./job-bulk";
import { OutputLink } from "./job-output";
import { EXPIRY_HOLD_MAX_MS, type ExpiryPlan, etaFrom, JobTimer, nextStageIndex, STAGE_GIVE_UP, type StageCursor } from "./job-plan";
import { JOB_SCHEMA, type JobPlan, type JobRecord, JobRecords, type JobState, mayWatch, planOf, type ReportResult } from "./job-record";
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
  private readonly records = new JobRecords(this.sql);
  private readonly output = new OutputLink(this.env);
  private readonly outbox = new BatchOutbox({
    sql: this.sql,
    timers: this.timers,
    events: this.events,
    env: this.env,
    intervalMs: this.config.batchReportMs,
    now: () => this.now(),
    current: () => (this.job ? memberReport(this.job.view, this.events.lastSeq) : null),
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

  private stateOf(record: JobRecord): JobState {
    return { ...record.view, viewers: record.viewers, seq: this.events.lastSeq };
  }

  private nowIso(): string {
    return new Date(this.now()).toISOString();
  }

  /** POST /v1/jobs; the same body again answers the job as it is. An output stream comes first. */
  async createJob(spec: JobSpec & { id: string }): Promise<Outcome<{ created: boolean; job: JobState }>> {
    const canonical = stableStringify(spec);
    const view = newJobView(spec, this.nowIso());
    // A retry after a failed creation finds the stream there already (an idempotent create).
    if (view.output && !this.job) view.output = await this.output.open(view.output);
    const existing = this.job;
    if (existing) {
      if (existing.spec !== canonical) return fail("conflict", `job ${spec.id} exists with a different body`);
      return ok({ created: false, job: this.stateOf(existing) });
    }
    const record: JobRecord = { view, viewers: spec.viewers ?? [], spec: canonical };
    this.bindChannel(`job:${spec.id}`);
    this.records.save(record);
    this.timers.set(JobTimer.Lifetime, this.now() + this.config.jobMaxLifetimeMs);
    if (spec.webhook_url !== undefined) this.webhooks.configure(spec.webhook_url);
    this.publish(JobEvent.Created, view);
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
    const plan = planOf(job);
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
      this.records.save({ ...job, view: next });
      seq = this.publish(eventTypeFor(next.status), update.data === undefined ? next : { ...next, data: update.data }).seq;
      this.afterChange(job.view, next);
    }
    const result: ReportResult = { seq, state: this.stateOf(this.job as JobRecord), cancel_requested: next.cancel_requested };
    if (update.event_id !== undefined) this.eventIds.remember(update.event_id, result, this.now());
    return ok(result);
  }

  /** POST /v1/jobs/events: this job's items of a bulk request, in order, each as report() answers it, without the state. */
  reportMany(updates: JobUpdate[]): Outcome<Outcome<BulkReportResult>[]> {
    return ok(updates.map((update) => forBulk(this.report(update))));
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

  /** GET /v1/jobs/:id: read(), with the output's position and closure as they are now. */
  async readNow(viewer: Identity | null): Promise<Outcome<JobState | JobView>> {
    const outcome = this.read(viewer);
    return outcome.ok ? ok(await this.output.current(outcome.value)) : outcome;
  }

  override async fetch(request: Request): Promise<Response> {
    await this.output.refresh(this.job?.view.output);
    return super.fetch(request);
  }

  /**
   * Called by a batch when it is created: remember it, and answer the state to count.
   * Idempotent for one generation of the batch; a new generation replaces the membership.
   */
  joinBatch(batchId: string, gen: string): Outcome<MemberReport> {
    const job = this.job;
    if (!job) return fail("not_found", "job not found");
    this.outbox.join(batchId, gen, this.events.lastSeq);
    return ok(memberReport(job.view, this.events.lastSeq));
  }

  protected admit(identity: Identity): Refusal | null {
    const job = this.job;
    return job && mayWatch(job, identity.id) ? null : { code: CloseCode.NotFound, reason: "job not found" };
  }

  protected snapshot(): JobView | null {
    const view = this.job?.view;
    return view ? this.output.withLive(view) : null;
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
      this.records.save({ ...job, view });
      this.publish(JobEvent.Update, view);
      // The backend hears of it now, not at its next POST (a stage may run for minutes).
      this.webhooks.queue(WebhookEvent.CancelRequested, { job: view, by: from.user });
      // The producer decides when the job ends; the plan stops pretending it progresses.
      this.timers.clear(JobTimer.Stage);
      // A queued job had no watchdog yet: a producer that died must not leave it waiting forever.
      if (view.status === "queued") this.armWatchdog(planOf(job));
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
      case JobTimer.OutputClose:
        return this.closeOutput();
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
    if (stage) this.timers.set(JobTimer.Stage, this.now() + stage.duration_ms, { index } satisfies StageCursor);
    else this.timers.clear(JobTimer.Stage);
    return stage && etaFrom(stages, index);
  }

  /** Emits one planned stage and sets the next one, timed from this one's due time (no drift). */
  private playStage(timer: Timer<StageCursor>): void {
    const job = this.job;
    if (job?.view.status !== "running" || job.view.cancel_requested) return;
    const stages = planOf(job).stages ?? [];
    const { index } = timer.payload;
    const view = playedStage(job.view, stages, index, this.nowIso());
    if (!view) return;
    this.records.save({ ...job, view });
    this.publish(JobEvent.Update, { ...view, data: { planned: true } satisfies PlannedData });
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
    const view = this.failWith(job, stalled(job.view, planOf(job).stall_timeout_s ?? 0, this.nowIso()));
    this.webhooks.queue(WebhookEvent.Stalled, { job: view });
  }

  /** A job the hub itself fails (watchdog, lifetime). */
  private failWith(job: JobRecord, view: JobView): JobView {
    this.records.save({ ...job, view });
    this.publish(JobEvent.Failed, view);
    this.afterChange(job.view, view);
    return view;
  }

  /** Timers that follow from a change of state: the end of a job stops its plan and starts its expiry. */
  private afterChange(before: JobView, after: JobView): void {
    const job = this.job as JobRecord;
    if (isFinal(after.status)) {
      this.timers.clear(JobTimer.Stage);
      this.timers.clear(JobTimer.Stall);
      this.timers.clear(JobTimer.Lifetime);
      if (after.output && !after.output.closed) this.timers.set(JobTimer.OutputClose, this.now());
      const planned = this.now() + (planOf(job).ttl_s ?? this.config.jobTtlMs / 1000) * 1000;
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
    // Its output goes first: a failure throws, and the timer comes back for both.
    await this.output.delete(this.job?.view.output);
    await this.wipe("job expired");
  }

  /** A final job's output takes no more appends; the job keeps its last position. */
  private async closeOutput(): Promise<void> {
    const closed = await this.output.close(this.job?.view.output);
    const job = this.job;
    if (job && closed) this.records.save({ ...job, view: { ...job.view, output: closed } });
  }

  /** JOB_MAX_LIFETIME_S after creation: a job still not final fails, and expires like any other. */
  private endLifetime(): void {
    const job = this.job;
    if (job && !isFinal(job.view.status)) this.failWith(job, lifetimeExceeded(job.view, this.config.jobMaxLifetimeMs, this.nowIso()));
  }
}
