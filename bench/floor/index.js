// The runtime floor for the hub: the smallest Worker + Durable Object that speaks the same
// bench protocol (POST /v1/jobs, POST /v1/jobs/:id/events, GET /v1/ws/job/:id with a
// `connected` first frame) with hibernatable sockets, and nothing else: no auth, no
// validation, no SQL, no logs. `npm run bench -- --servers hub --hub-bundle bench/floor`
// runs it in the hub's place; `--servers hub,floor` runs both in the same bench run, to
// tell the hub's own costs from workerd's. With FLOOR_DURABLE=1 ("floor-durable" in the
// bench) each publish also writes its frame to SQLite before answering, as the hub must:
// the runtime's price of a durable publish. POST /v1/jobs/events (the bulk route, P1) calls
// each job's object once with its items, as the hub does.
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
    if (url.pathname.endsWith("/events-many")) {
      const updates = await request.json();
      return Response.json(updates.map((update) => ({ seq: this.publish(update.data) })));
    }
    if (url.pathname.endsWith("/events")) {
      const body = await request.json();
      return Response.json({ seq: this.publish(body.data) });
    }
    return Response.json({ created: true }, { status: 201 });
  }
  publish(data) {
    const frame = JSON.stringify({ type: "job:update", channel: "floor", seq: ++this.seq, ts: new Date().toISOString(), data });
    if (this.env.FLOOR_DURABLE === "1") {
      this.ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, frame TEXT NOT NULL)");
      this.ctx.storage.sql.exec("INSERT INTO events (seq, frame) VALUES (?, ?)", this.seq, frame);
    }
    for (const ws of this.ctx.getWebSockets()) ws.send(frame);
    return this.seq;
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
    if (url.pathname === "/v1/jobs/events") return bulk(request, env);
    const m = /^\/v1\/(?:ws\/)?jobs?\/([^/]+)/.exec(url.pathname);
    const id = m ? m[1] : url.pathname === "/v1/jobs" ? "create" : "none";
    if (url.pathname === "/v1/jobs") return Response.json({ created: true }, { status: 201 });
    return env.JOB_HUB.getByName(id).fetch(request);
  },
};

/** The bulk route: items grouped per job, one call per job's object, one result per item. */
async function bulk(request, env) {
  const items = await request.json();
  const byJob = new Map();
  for (const { job, ...update } of items) {
    if (!byJob.has(job)) byJob.set(job, []);
    byJob.get(job).push(update);
  }
  const answers = await Promise.all(
    [...byJob].map(([job, updates]) =>
      env.JOB_HUB.getByName(job)
        .fetch(`http://floor/v1/jobs/${job}/events-many`, { method: "POST", body: JSON.stringify(updates) })
        .then((res) => res.json()),
    ),
  );
  const results = answers.flat().map((r) => ({ ok: true, seq: r.seq }));
  return Response.json({ results, applied: results.length, failed: 0 });
}
