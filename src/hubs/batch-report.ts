import type { JobStatus } from "../protocol";

/** What a member job tells its batch; `seq` (the job's log seq) orders reports. */
export interface MemberReport {
  job_id: string;
  seq: number;
  status: JobStatus;
  progress: number;
}
