import type { Identity } from "../auth/jwt";
import { fail, type Outcome, ok } from "../errors";
import type { Refusal } from "../hub/connections";
import { Hub } from "../hub/hub";
import type { ComponentSchema } from "../hub/migrations";
import type { Timer } from "../hub/timers";
import { newId } from "../ids";
import { log } from "../log";
import { BatchEvent, type BatchEvents, type BatchView, CloseCode } from "../protocol";
import type { BatchSpec } from "../schemas";
import { stableStringify } from "../stable-json";
import { BATCH_MEMBERS_JOINING, BATCH_MEMBERS_TABLE, BatchMembers } from "./batch-members";
import type { MemberReport } from "./batch-outbox";

export type BatchState = BatchView & { owner: string; viewers: string[]; seq: number };

const EXPIRE_TIMER = "expire";
/**
 * Finishes the joins of a batch whose creation was interrupted. Set before the first
 * join is sent, so even an object that dies mid-creation finishes it; it never gives up,
 * and the batch's lifetime bounds it.
 */
const JOIN_TIMER = "join";
const JOIN_RETRY_MS = 5_000;

type BatchRow = {
  id: string;
  spec: string;
  owner: string;
  viewers: string;
  completed_at: number | null;
  gen: string | null;
  created_at: number | null;
};

type Created = { created: boolean; batch: BatchState };

/**
 * One batch: counts of its member jobs by outcome. Members push their state here (see
 * BatchOutbox); the batch never polls. A member report carries the job's log seq, so a
 * late or repeated report can never move a member backwards, and the membership's
 * generation, so one meant for an earlier batch of the same id is refused.
 */
export class BatchHub extends Hub<BatchView | null, BatchEvents> {
  private readonly members = new BatchMembers(this.sql);
  /** The joins in flight in this instance: concurrent same-body calls share their outcome. */
  private joins: Promise<Outcome<void>> | null = null;

  protected schema(): ComponentSchema {
    return {
      component: "batch",
      steps: [
        "CREATE TABLE batch (id TEXT PRIMARY KEY, spec TEXT NOT NULL, owner TEXT NOT NULL, viewers TEXT NOT NULL, completed_at INTEGER)",
        BATCH_MEMBERS_TABLE,
        BATCH_MEMBERS_JOINING,
        "ALTER TABLE batch ADD COLUMN gen TEXT",
        "ALTER TABLE batch ADD COLUMN created_at INTEGER",
      ],
    };
  }

  private row(): BatchRow | undefined {
    if (!this.stored) return undefined;
    return this.sql.exec<BatchRow>("SELECT id, spec, owner, viewers, completed_at, gen, created_at FROM batch").toArray()[0];
  }

  /**
   * POST /v1/batches. Joins every job; a job that does not exist makes it a 404 and
   * nothing is kept. A join that fails otherwise leaves the batch being created: the
   * producer gets an error, and its retry with the same body, or the join timer,
   * finishes the joins. Until then a same-body call waits for the joins too.
   */
  async createBatch(spec: BatchSpec & { id: string }): Promise<Outcome<Created>> {
    const canonical = stableStringify(spec);
    const existing = this.row();
    if (existing) {
      if (existing.spec !== canonical) return fail("conflict", `batch ${spec.id} exists with a different body`);
      const joined = await this.finishJoins();
      return joined.ok ? ok({ created: false, batch: this.state() }) : joined;
    }
    const now = this.now();
    this.bindChannel(`batch:${spec.id}`);
    this.sql.exec(
      "INSERT INTO batch (id, spec, owner, viewers, gen, created_at) VALUES (?, ?, ?, ?, ?, ?)",
      spec.id,
      canonical,
      spec.owner,
      JSON.stringify(spec.viewers ?? []),
      newId(),
      now,
    );
    // Stored before any await: a member that changes while we join the others finds its
    // batch and is counted, and the timers finish or end this batch whatever happens next.
    this.members.addJoining(spec.jobs);
    this.timers.set(JOIN_TIMER, now + JOIN_RETRY_MS);
    this.timers.set(EXPIRE_TIMER, now + this.config.batchMaxLifetimeMs);
    const joined = await this.finishJoins();
    return joined.ok ? ok({ created: true, batch: this.state() }) : joined;
  }

  /** Joins the members still joining, once at a time in this instance. */
  private finishJoins(): Promise<Outcome<void>> {
    if (this.members.joining().length === 0) return Promise.resolve(ok(undefined));
    this.joins ??= this.joinPending().finally(() => {
      this.joins = null;
    });
    return this.joins;
  }

  private async joinPending(): Promise<Outcome<void>> {
    const row = this.row() as BatchRow;
    const gen = row.gen ?? "";
    const pending = this.members.joining();
    const answers = await Promise.allSettled(pending.map((job) => this.env.JOB_HUB.getByName(job).joinBatch(row.id, gen)));
    // Wiped (or expired and created again) while we waited: these answers are not ours.
    if (this.row()?.gen !== row.gen) return fail("not_found", "batch not found");
    const missing: string[] = [];
    let unreachable = 0;
    answers.forEach((answer, i) => {
      if (answer.status === "rejected") {
        unreachable += 1;
        log("batch.join_failed", { channel: this.channel, job: pending[i], error: String(answer.reason) });
      } else if (answer.value.ok) this.members.joined({ ...answer.value.value, gen });
      else missing.push(pending[i] as string);
    });
    if (missing.length > 0) {
      // Jobs that did join hear "not_found" on their next report and forget this batch.
      await this.wipe("batch not created");
      return fail("not_found", `jobs not found: ${missing.slice(0, 10).join(", ")}${missing.length > 10 ? ", ..." : ""}`);
    }
    if (unreachable > 0) return fail("internal", `${unreachable} job(s) could not be joined yet; the batch retries on its own`);
    this.timers.clear(JOIN_TIMER);
    this.publish(BatchEvent.Update, this.view(true));
    this.completeIfDone();
    return ok(undefined);
  }

  /** A member job's new state. Idempotent: an older or repeated seq changes nothing. */
  memberChanged(report: MemberReport): Outcome<{ applied: boolean }> {
    // Checked first: a report to a batch that does not exist must not write anything there.
    const row = this.row();
    if (!row) return fail("not_found", "batch not found");
    // "not_found" makes the job forget this membership (e.g. one recreated without it).
    if (report.gen !== undefined && row.gen !== null && report.gen !== row.gen) return fail("not_found", "an earlier batch of this id");
    this.countReport();
    if (!this.members.has(report.job_id)) return fail("not_found", `job ${report.job_id} is not in this batch`);
    if (!this.members.record(report)) return ok({ applied: false });
    this.publish(BatchEvent.Update, {
      ...this.view(false),
      jobs: { [report.job_id]: { status: report.status, progress: report.progress } },
    });
    this.completeIfDone();
    return ok({ applied: true });
  }

  /** How many member reports this batch has received: lets tests see that progress is coalesced. */
  reportsReceived(): Outcome<number> {
    return ok(this.reportCount());
  }

  private reportCount(): number {
    return Number(this.events.readMeta("reports_received") ?? 0);
  }

  read(viewer: Identity | null): Outcome<BatchState | BatchView> {
    const row = this.row();
    if (!row) return fail("not_found", "batch not found");
    if (viewer === null) return ok(this.state());
    // A stranger hears exactly what an unknown id answers: ids cannot be probed.
    if (!mayWatch(row, viewer.id)) return fail("not_found", "batch not found");
    return ok(this.view(true));
  }

  protected admit(identity: Identity): Refusal | null {
    const row = this.row();
    if (!row) return { code: CloseCode.NotFound, reason: "batch not found" };
    if (!mayWatch(row, identity.id)) return { code: CloseCode.NotFound, reason: "batch not found" };
    return null;
  }

  protected snapshot(): BatchView | null {
    return this.row() ? this.view(true) : null;
  }

  protected override onTimer(timer: Timer): void | Promise<void> {
    if (timer.name === EXPIRE_TIMER) return this.wipe("batch expired");
    if (timer.name === JOIN_TIMER) return this.retryJoins();
    return super.onTimer(timer);
  }

  /** Throws while a join still fails, so the timer's lease retries it with backoff. */
  private async retryJoins(): Promise<void> {
    if (!this.row()) return;
    const joined = await this.finishJoins();
    if (!joined.ok && joined.error.code !== "not_found") throw new Error(joined.error.message);
  }

  private countReport(): void {
    this.events.writeMeta("reports_received", String(this.reportCount() + 1));
  }

  /**
   * batch:completed once, when every member has reached a final state; expiry starts
   * then, and never later than the batch's maximum lifetime.
   */
  private completeIfDone(): void {
    const row = this.row();
    if (!row || row.completed_at !== null) return;
    const view = this.view(true);
    if (view.completed + view.failed + view.cancelled < view.total) return;
    const now = this.now();
    this.sql.exec("UPDATE batch SET completed_at = ?", now);
    this.publish(BatchEvent.Completed, view);
    const lifetimeEnds = (row.created_at ?? now) + this.config.batchMaxLifetimeMs;
    this.timers.set(EXPIRE_TIMER, Math.min(now + this.config.jobTtlMs, lifetimeEnds));
    log("batch.completed", { channel: this.channel, total: view.total, failed: view.failed, cancelled: view.cancelled });
  }

  private view(withJobs: boolean): BatchView {
    const view: BatchView = { id: this.row()?.id ?? "", ...this.members.counts() };
    if (withJobs) view.jobs = this.members.all();
    return view;
  }

  private state(): BatchState {
    const row = this.row() as BatchRow;
    return { ...this.view(true), owner: row.owner, viewers: JSON.parse(row.viewers), seq: this.events.lastSeq };
  }
}

function mayWatch(row: BatchRow, userId: string): boolean {
  return row.owner === userId || (JSON.parse(row.viewers) as string[]).includes(userId);
}
