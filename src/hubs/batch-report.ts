import type { JobStatus } from "../protocol";

/**
 * What a member job tells its batch; `seq` (the job's log seq) orders reports. `gen` is
 * the generation of the membership the job holds: a batch created again under the same id
 * has a new one, so a report (or a reply) meant for the old batch cannot touch the new.
 */
export interface MemberReport {
  job_id: string;
  seq: number;
  status: JobStatus;
  progress: number;
  gen?: string;
}
