// The floor for a JS server: `ws` with a Set of sockets per channel.
// POST /publish/:channel sends the body, as received, to every subscriber of the channel.
// WS /sub/:channel subscribes.
import { createServer } from "node:http";
import { WebSocketServer } from "ws";
import { listen, readBody, serve } from "./common.mjs";

serve(async () => {
  const channels = new Map();
  const server = createServer(async (req, res) => {
    const m = /^\/publish\/([^/?]+)$/.exec(req.url ?? "");
    if (req.method !== "POST" || !m) {
      res.writeHead(404).end();
      return;
    }
    const body = await readBody(req);
    let sent = 0;
    for (const ws of channels.get(m[1]) ?? []) {
      if (ws.readyState === 1) {
        ws.send(body);
        sent++;
      }
    }
    res.writeHead(200, { "content-type": "application/json" }).end(`{"sent":${sent}}`);
  });
  server.keepAliveTimeout = 60_000;
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  server.on("upgrade", (req, socket, head) => {
    const m = /^\/sub\/([^/?]+)/.exec(req.url ?? "");
    if (!m) {
      socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const channel = m[1];
      if (!channels.has(channel)) channels.set(channel, new Set());
      channels.get(channel).add(ws);
      ws.on("close", () => {
        const set = channels.get(channel);
        set?.delete(ws);
        if (set?.size === 0) channels.delete(channel);
      });
      ws.on("error", () => {});
    });
  });
  const url = await listen(server);
  return {
    url,
    stop: async () => {
      for (const ws of wss.clients) ws.terminate();
      server.closeAllConnections?.();
      await new Promise((r) => server.close(r));
    },
  };
});
