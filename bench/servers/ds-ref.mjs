// The reference Durable Streams server (@durable-streams/server, Node, in memory), the
// peer of the hub in the `stream` scenario. Compression off: the hub sends plain bytes too.
import { DurableStreamTestServer } from "@durable-streams/server";
import { serve } from "./common.mjs";

serve(async () => {
  const server = new DurableStreamTestServer({ host: "127.0.0.1", port: 0, compression: false });
  const url = await server.start();
  return { url: url.replace(/\/+$/, ""), stop: () => server.stop() };
});
