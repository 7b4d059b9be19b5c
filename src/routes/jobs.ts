import { Hono } from "hono";
import { unwrap } from "../errors";
import { type AppEnv, producerOnly, producerOrUser, readJson } from "../http";
import { newId, parseId } from "../ids";
import { JobSpec, JobUpdate } from "../schemas";
import { checkWebhookUrl } from "../webhooks/url";

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

jobRoutes.get("/jobs/:id", async (c) => {
  const viewer = await producerOrUser(c);
  const id = parseId(c.req.param("id"), "job id");
  return c.json(unwrap(await c.env.JOB_HUB.getByName(id).readNow(viewer)));
});
