import { Hono } from "hono";
import { asHubError, type ErrorPayload, type Outcome, unwrap } from "../errors";
import { type AppEnv, producerOnly, producerOrUser, readJson } from "../http";
import type { BulkReportResult } from "../hubs/job-bulk";
import { newId, parseId } from "../ids";
import { log } from "../log";
import type { JobUpdateResult } from "../protocol";
import { JobSpec, JobUpdate, JobUpdateBatch, JobUpdateItem } from "../schemas";
import { parseWith } from "../validation";
import { checkWebhookUrl } from "../webhooks/url";
import { invalidKey, runGrouped } from "./bulk";

export const jobRoutes = new Hono<AppEnv>();

jobRoutes.post("/jobs", producerOnly, async (c) => {
  const spec = await readJson(c, JobSpec);
  checkWebhookUrl(spec.webhook_url, c.get("config"));
  const id = spec.id ?? newId();
  const { created, job } = unwrap(await c.env.JOB_HUB.getByName(id).createJob({ ...spec, id }));
  return c.json(job, created ? 201 : 200);
});

jobRoutes.post("/jobs/:id/events", producerOnly, async (c) => {
  const id = parseId(c.req.param("id"), "job id");
  const update = await readJson(c, JobUpdate);
  return c.json(unwrap(await c.env.JOB_HUB.getByName(id).report(update)));
});

/**
 * Up to 100 `{job, ...update}` items, one result per item, with the single route's rules
 * (event_id dedupe, progress never backwards, job_finished). Items are grouped per job:
 * each job's object is called once, with its items in the order given.
 */
jobRoutes.post("/jobs/events", producerOnly, async (c) => {
  const items = await readJson(c, JobUpdateBatch);
  const parsed = items.map((raw) => {
    try {
      return parseWith(JobUpdateItem, raw);
    } catch (err) {
      return asHubError(err).toPayload();
    }
  });
  const jobOf = (index: number) => {
    const item = parsed[index];
    return item && "job" in item ? item.job : invalidKey(index);
  };
  const { results, failed } = await runGrouped<JobUpdateResult>(items.length, jobOf, async (job, indexes) => {
    const first = parsed[indexes[0] as number];
    if (!first || !("job" in first)) return [{ index: indexes[0] as number, ok: false, error: first as ErrorPayload }];
    const updates = indexes.map((index) => {
      const { job: _job, ...update } = parsed[index] as JobUpdateItem;
      return update;
    });
    const outcomes = await reportAll(c.env, job, updates);
    return indexes.map((index, k): JobUpdateResult => {
      const outcome = outcomes[k] as Outcome<BulkReportResult>;
      if (!outcome.ok) return { index, ok: false, job, error: outcome.error };
      return { index, ok: true, job, ...outcome.value };
    });
  });
  return c.json({ results, applied: results.length - failed, failed });
});

/** One call to the job's object for all its items; a failed call fails each of them. */
async function reportAll(env: Env, job: string, updates: JobUpdate[]): Promise<Outcome<BulkReportResult>[]> {
  try {
    const outcome = await env.JOB_HUB.getByName(job).reportMany(updates);
    return outcome.ok ? outcome.value : updates.map(() => outcome);
  } catch (err) {
    log("jobs.bulk_error", { job, error: String(err) });
    return updates.map(() => ({ ok: false, error: asHubError(err).toPayload() }));
  }
}

jobRoutes.get("/jobs/:id", async (c) => {
  const viewer = await producerOrUser(c);
  const id = parseId(c.req.param("id"), "job id");
  return c.json(unwrap(await c.env.JOB_HUB.getByName(id).readNow(viewer)));
});
