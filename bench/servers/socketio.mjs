// Socket.IO 4 with rooms, websocket transport only (what the seeds use).
// POST /publish/:room -> io.to(room).emit("event", payload); clients join ?room= on connect.
import { createServer } from "node:http";
import { Server } from "socket.io";
import { listen, readBody, serve } from "./common.mjs";

serve(async () => {
  const server = createServer();
  const io = new Server(server, { transports: ["websocket"], serveClient: false, perMessageDeflate: false });
  io.on("connection", (socket) => {
    const room = socket.handshake.query.room;
    if (typeof room === "string") socket.join(room);
  });
  // socket.io installs its own request listener for /socket.io/; everything else is ours.
  server.prependListener("request", async (req, res) => {
    const m = /^\/publish\/([^/?]+)$/.exec(req.url ?? "");
    if (!m) return;
    if (req.method !== "POST") {
      res.writeHead(405).end();
      return;
    }
    const body = await readBody(req);
    io.to(m[1]).emit("event", JSON.parse(body.toString("utf8")));
    res.writeHead(200, { "content-type": "application/json" }).end("{}");
  });
  server.keepAliveTimeout = 60_000;
  const url = await listen(server);
  return {
    url,
    stop: async () => {
      io.disconnectSockets(true);
      server.closeAllConnections?.();
      await new Promise((r) => io.close(() => r()));
    },
  };
});
