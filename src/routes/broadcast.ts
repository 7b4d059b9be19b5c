import { Hono } from "hono";
import { broadcastToAll } from "../broadcast/directory";
import { type AppEnv, producerOnly, readJson } from "../http";
import { BroadcastInput } from "../schemas";

export const broadcastRoutes = new Hono<AppEnv>();

/**
 * To every user with an open socket, through the sharded directory. 200 once every shard
 * is done; 202 when some are still calling user hubs (they carry on from their alarms).
 * The same event_id again answers with the progress and `duplicate: true`, sending nothing.
 */
broadcastRoutes.post("/broadcast", producerOnly, async (c) => {
  const input = await readJson(c, BroadcastInput);
  const result = await broadcastToAll(c.env, input, c.get("config").directoryShards);
  return c.json(result, result.complete ? 200 : 202);
});
