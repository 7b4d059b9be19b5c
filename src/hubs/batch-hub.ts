import type { Identity } from "../auth/jwt";
import { fail, type Outcome, ok } from "../errors";
import type { Refusal } from "../hub/connections";
import { Hub } from "../hub/hub";
import type { ComponentSchema } from "../hub/migrations";
import type { Timer } from "../hub/timers";
import { log } from "../log";
import { BatchEvent, type BatchEvents, type BatchMember, type BatchView, CloseCode, type JobStatus } from "../protocol";
import type { BatchSpec } from "../schemas";
import { stableStringify } from "../stable-json";
import type { MemberReport } from "./batch-outbox";
import { isFinal } from "./job-state";

export type BatchState = BatchView & { owner: string; viewers: string[]; seq: number };

const EXPIRE_TIMER = "expire";

type BatchRow = {
  spec: string;
  owner: string;
  viewers: string;
  completed_at: number | null;
};

/**
 * One batch: counts of its member jobs by outcome. Members push their state here (see
 * BatchOutbox); the batch never polls. A member report carries the job's
 * log seq, so a late or repeated report can never move a member backwards.
 */
export class BatchHub extends Hub<BatchView | null, BatchEvents> {
  protected schema(): ComponentSchema {
    return {
      component: "batch",
      steps: [
        "CREATE TABLE batch (id TEXT PRIMARY KEY, spec TEXT NOT NULL, owner TEXT NOT NULL, viewers TEXT NOT NULL, completed_at INTEGER)",
        // seq -1: joined, state not heard yet.
        "CREATE TABLE members (job_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, status TEXT NOT NULL, progress REAL NOT NULL)",
      ],
    };
  }

  private row(): (BatchRow & { id: string }) | undefined {
    return this.sql.exec<BatchRow & { id: string }>("SELECT id, spec, owner, viewers, completed_at FROM batch").toArray()[0];
  }

  /** POST /v1/batches. Joins every job first; a job that does not exist makes it a 404. */
  async createBatch(spec: BatchSpec & { id: string }): Promise<Outcome<{ created: boolean; batch: BatchState }>> {
    const canonical = stableStringify(spec);
    const existing = this.row();
    if (existing) {
      if (existing.spec !== canonical) return fail("conflict", `batch ${spec.id} exists with a different body`);
      return ok({ created: false, batch: this.state() });
    }
    this.bindChannel(`batch:${spec.id}`);
    this.sql.exec(
      "INSERT INTO batch (id, spec, owner, viewers) VALUES (?, ?, ?, ?)",
      spec.id,
      canonical,
      spec.owner,
      JSON.stringify(spec.viewers ?? []),
    );
    // Stored before any await: a member that changes while we join the others finds its
    // batch and is counted.
    for (const job of spec.jobs) this.sql.exec("INSERT INTO members (job_id, seq, status, progress) VALUES (?, -1, 'queued', 0)", job);

    const joined = await Promise.all(spec.jobs.map((job) => this.env.JOB_HUB.getByName(job).joinBatch(spec.id)));
    const missing = spec.jobs.filter((_, i) => !joined[i]?.ok);
    if (missing.length > 0) {
      // Jobs that did join hear "not_found" on their next report and forget this batch.
      await this.wipe("batch not created");
      return fail("not_found", `jobs not found: ${missing.slice(0, 10).join(", ")}${missing.length > 10 ? ", ..." : ""}`);
    }
    for (const outcome of joined) if (outcome.ok) this.record(outcome.value);
    this.publish(BatchEvent.Update, this.view(true));
    this.completeIfDone();
    return ok({ created: true, batch: this.state() });
  }

  /** A member job's new state. Idempotent: an older or repeated seq changes nothing. */
  memberChanged(report: MemberReport): Outcome<{ applied: boolean }> {
    // Checked first: a report to a batch that does not exist must not write anything there.
    if (!this.row()) return fail("not_found", "batch not found");
    this.countReport();
    const member = this.sql.exec("SELECT 1 FROM members WHERE job_id = ?", report.job_id).toArray().length > 0;
    // "not_found" makes the job forget this batch (e.g. one recreated without it).
    if (!member) return fail("not_found", `job ${report.job_id} is not in this batch`);
    if (!this.record(report)) return ok({ applied: false });
    this.publish(BatchEvent.Update, { ...this.view(false), jobs: { [report.job_id]: memberOf(report) } });
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
    if (!mayWatch(row, viewer.id)) return fail("forbidden", "not the batch's owner or a viewer");
    return ok(this.view(true));
  }

  protected admit(identity: Identity): Refusal | null {
    const row = this.row();
    if (!row) return { code: CloseCode.NotFound, reason: "batch not found" };
    if (!mayWatch(row, identity.id)) return { code: CloseCode.Forbidden, reason: "not the batch's owner or a viewer" };
    return null;
  }

  protected snapshot(): BatchView | null {
    return this.row() ? this.view(true) : null;
  }

  protected override onTimer(timer: Timer): void | Promise<void> {
    if (timer.name === EXPIRE_TIMER) return this.wipe("batch expired");
    return super.onTimer(timer);
  }

  private countReport(): void {
    this.events.writeMeta("reports_received", String(this.reportCount() + 1));
  }

  /** True when the report was newer than what the batch had for that job. */
  private record(report: MemberReport): boolean {
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

  /** batch:completed once, when every member has reached a final state; expiry starts then. */
  private completeIfDone(): void {
    const row = this.row();
    if (!row || row.completed_at !== null) return;
    const view = this.view(true);
    if (view.completed + view.failed + view.cancelled < view.total) return;
    const now = this.now();
    this.sql.exec("UPDATE batch SET completed_at = ?", now);
    this.publish(BatchEvent.Completed, view);
    this.timers.set(EXPIRE_TIMER, now + this.config.jobTtlMs);
    log("batch.completed", { channel: this.channel, total: view.total, failed: view.failed, cancelled: view.cancelled });
  }

  private view(withJobs: boolean): BatchView {
    const members = this.sql
      .exec<{ job_id: string; status: JobStatus; progress: number }>("SELECT job_id, status, progress FROM members")
      .toArray();
    const count = (status: JobStatus) => members.filter((m) => m.status === status).length;
    const sum = members.reduce((total, m) => total + (isFinal(m.status) ? 100 : m.progress), 0);
    const view: BatchView = {
      id: this.row()?.id ?? "",
      total: members.length,
      completed: count("completed"),
      failed: count("failed"),
      cancelled: count("cancelled"),
      progress: members.length === 0 ? 0 : Math.round((sum / members.length) * 10) / 10,
    };
    if (withJobs) view.jobs = Object.fromEntries(members.map((m) => [m.job_id, memberOf(m)]));
    return view;
  }

  private state(): BatchState {
    const row = this.row() as BatchRow;
    return { ...this.view(true), owner: row.owner, viewers: JSON.parse(row.viewers), seq: this.events.lastSeq };
  }
}

function memberOf(m: Pick<MemberReport, "status" | "progress">): BatchMember {
  return { status: m.status, progress: m.progress };
}

function mayWatch(row: BatchRow, userId: string): boolean {
  return row.owner === userId || (JSON.parse(row.viewers) as string[]).includes(userId);
}
