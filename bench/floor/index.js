// The runtime floor for the hub: the smallest Worker + Durable Object that speaks the same
// bench protocol (POST /v1/jobs, POST /v1/jobs/:id/events, GET /v1/ws/job/:id with a
// `connected` first frame) with hibernatable sockets, and nothing else: no auth, no
// validation, no SQL, no logs. `npm run bench -- --servers hub --hub-bundle bench/floor`
// runs it in the hub's place; `--servers hub,floor` runs both in the same bench run, to
// tell the hub's own costs from workerd's. With FLOOR_DURABLE=1 ("floor-durable" in the
// bench) each publish also writes its frame to SQLite before answering, as the hub must:
// the runtime's price of a durable publish.
import { DurableObject } from "cloudflare:workers";

export class JobHub extends DurableObject {
  seq = 0;
  constructor(ctx, env) {
    super(ctx, env);
    // The bench's subscribers ping as real clients do; answered by the runtime, as in the hub.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair('{"type":"ping"}', '{"type":"pong"}'));
  }
  async fetch(request) {
    const url = new URL(request.url);
    if (request.headers.get("Upgrade") === "websocket") {
      const { 0: client, 1: server } = new WebSocketPair();
      this.ctx.acceptWebSocket(server);
      server.send(JSON.stringify({ type: "connected", data: { epoch: "floor", seq: this.seq } }));
      return new Response(null, { status: 101, webSocket: client, headers: { "Sec-WebSocket-Protocol": "dovetail.v1" } });
    }
    if (url.pathname.endsWith("/events")) {
      const body = await request.json();
      const frame = JSON.stringify({
        type: "job:update",
        channel: "floor",
        seq: ++this.seq,
        ts: new Date().toISOString(),
        data: body.data,
      });
      if (this.env.FLOOR_DURABLE === "1") {
        this.ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, frame TEXT NOT NULL)");
        this.ctx.storage.sql.exec("INSERT INTO events (seq, frame) VALUES (?, ?)", this.seq, frame);
      }
      for (const ws of this.ctx.getWebSockets()) ws.send(frame);
      return Response.json({ seq: this.seq });
    }
    return Response.json({ created: true }, { status: 201 });
  }
  webSocketClose(ws, code) {
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, "");
    } catch {}
  }
}

// Every class wrangler.toml binds must exist; these are never called.
export class UserHub extends DurableObject {}
export class RoomHub extends DurableObject {}
export class BatchHub extends DurableObject {}
export class StatsShard extends DurableObject {}
export class DirectoryShard extends DurableObject {}
export class RoomShard extends DurableObject {}
export class StreamHub extends DurableObject {}
export class DeadLetters extends DurableObject {}

export default {
  fetch(request, env) {
    const url = new URL(request.url);
    const m = /^\/v1\/(?:ws\/)?jobs?\/([^/]+)/.exec(url.pathname);
    const id = m ? m[1] : url.pathname === "/v1/jobs" ? "create" : "none";
    if (url.pathname === "/v1/jobs") return Response.json({ created: true }, { status: 201 });
    return env.JOB_HUB.getByName(id).fetch(request);
  },
};
