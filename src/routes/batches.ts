import { Hono } from "hono";
import { unwrap } from "../errors";
import { type AppEnv, producerOnly, producerOrUser, readJson } from "../http";
import { newId, parseId } from "../ids";
import { BatchSpec } from "../schemas";

export const batchRoutes = new Hono<AppEnv>();

batchRoutes.post("/batches", producerOnly, async (c) => {
  const spec = await readJson(c, BatchSpec);
  const id = spec.id ?? newId();
  const { created, batch } = unwrap(await c.env.BATCH_HUB.getByName(id).createBatch({ ...spec, id }));
  return c.json(batch, created ? 201 : 200);
});

batchRoutes.get("/batches/:id", async (c) => {
  const viewer = await producerOrUser(c);
  const id = parseId(c.req.param("id"), "batch id");
  return c.json(unwrap(await c.env.BATCH_HUB.getByName(id).read(viewer)));
});
