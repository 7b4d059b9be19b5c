import { type Outcome, ok } from "../errors";
import type { JobStatus } from "../protocol";
import type { ReportResult } from "./job-record";

/** What the bulk route answers per item: the job's state stays in its object, so the RPC reply stays small. */
export type BulkReportResult = Omit<ReportResult, "state"> & { status: JobStatus };

export function forBulk(outcome: Outcome<ReportResult>): Outcome<BulkReportResult> {
  if (!outcome.ok) return outcome;
  const { seq, state, cancel_requested, duplicate } = outcome.value;
  return ok({ seq, status: state.status, cancel_requested, ...(duplicate ? { duplicate } : {}) });
}
