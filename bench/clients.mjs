// Subscribers and the publisher, one adapter per server kind, all driven the same way by
// load.mjs. Frames are scanned for the bench fields with indexOf (no JSON.parse per
// delivery) so the load generator spends its CPU on sockets, not on parsing.
import http from "node:http";
import { SignJWT } from "jose";
import { io as ioClient } from "socket.io-client";
import WebSocket from "ws";
import { BENCH_USER, JWT_SECRET, PAYLOAD_BYTES, PRODUCER_KEY } from "./config.mjs";

/** Sub-millisecond wall clock shared by publisher and subscribers (same process). */
export const nowMs = () => performance.timeOrigin + performance.now();

function numberAfter(text, key) {
  const at = text.indexOf(key);
  return at < 0 ? Number.NaN : Number.parseFloat(text.slice(at + key.length, at + key.length + 32));
}

/** The producer's payload: publish time and index, padded to ~300 bytes of JSON. */
export function payload(i) {
  const head = { bench_i: i, bench_t: nowMs(), pad: "" };
  const size = JSON.stringify(head).length;
  head.pad = "x".repeat(Math.max(0, PAYLOAD_BYTES - size));
  return head;
}

export const PING_FRAME = '{"type":"ping"}';
/** The client SDK's default ping interval. */
export const PING_EVERY_MS = 20_000;

const WS_OPTIONS = { perMessageDeflate: false, skipUTF8Validation: true, handshakeTimeout: 15_000 };

/**
 * A subscriber: `handlers.event(i, t, seq, bytes)` per delivery, `handlers.close()` when the
 * socket goes. `connect()` resolves once the server has registered it; reconnect() resumes
 * where the hub supports it.
 */
class HubSub {
  constructor(adapter, channel, handlers) {
    Object.assign(this, { adapter, channel, handlers, epoch: null, lastSeq: 0, ws: null });
  }
  connect(resume = false) {
    const q = resume && this.epoch ? `?since=${this.lastSeq}&epoch=${this.epoch}` : "";
    const ws = new WebSocket(
      `${this.adapter.wsBase}/v1/ws/job/${this.channel}${q}`,
      ["dovetail.v1", `bearer.${this.adapter.token}`],
      WS_OPTIONS,
    );
    this.ws = ws;
    const onClose = () => {
      this.adapter.live.delete(ws);
      this.handlers.close(this);
    };
    // Ready on the `connected` frame: by then the hub has registered the socket.
    return watchSocket(ws, { onClose }, (text, bytes, ready) => {
      if (!ready.done) {
        if (text.startsWith('{"type":"connected"')) {
          const frame = JSON.parse(text);
          this.epoch = frame.data.epoch;
          if (!resume) this.lastSeq = frame.data.seq;
          this.adapter.live.add(ws);
          ready.now();
        }
        return;
      }
      const i = numberAfter(text, '"bench_i":');
      if (Number.isNaN(i)) return;
      const seq = numberAfter(text, '"seq":');
      this.handlers.event(this, i, numberAfter(text, '"bench_t":'), seq, bytes);
      this.lastSeq = seq;
    });
  }
  terminate() {
    this.ws?.terminate();
  }
  close() {
    this.ws?.terminate();
  }
}

class WsSub {
  constructor(adapter, channel, handlers) {
    Object.assign(this, { adapter, channel, handlers, ws: null });
  }
  connect() {
    const ws = new WebSocket(`${this.adapter.wsBase}/sub/${this.channel}`, WS_OPTIONS);
    this.ws = ws;
    return watchSocket(ws, { onClose: () => this.handlers.close(this), readyOnOpen: true }, (text, bytes) => {
      this.handlers.event(this, numberAfter(text, '"bench_i":'), numberAfter(text, '"bench_t":'), Number.NaN, bytes);
    });
  }
  terminate() {
    this.ws?.terminate();
  }
  close() {
    this.ws?.terminate();
  }
}

/**
 * The open/close/error plumbing both `ws` subscribers share. Resolves when the socket is
 * ready: on open with `readyOnOpen`, else when `onText` calls `ready.now()`. A close or
 * error before that rejects.
 */
function watchSocket(ws, { onClose, readyOnOpen = false }, onText) {
  return new Promise((resolve, reject) => {
    const ready = {
      done: false,
      now() {
        ready.done = true;
        resolve();
      },
    };
    if (readyOnOpen) ws.on("open", () => ready.now());
    ws.on("message", (data) => onText(data.toString(), data.length, ready));
    ws.on("close", (code) => {
      if (!ready.done) reject(new Error(`closed before ready (${code})`));
      onClose();
    });
    ws.on("error", (err) => {
      if (!ready.done) reject(err);
    });
  });
}

class SocketIoSub {
  constructor(adapter, channel, handlers) {
    Object.assign(this, { adapter, channel, handlers, socket: null, bytes: 0 });
  }
  connect() {
    const socket = ioClient(this.adapter.base, {
      transports: ["websocket"],
      query: { room: this.channel },
      reconnection: false,
      forceNew: true,
      timeout: 15_000,
      perMessageDeflate: false,
    });
    this.socket = socket;
    return new Promise((resolve, reject) => {
      let ready = false;
      socket.on("connect", () => {
        ready = true;
        resolve();
      });
      socket.on("connect_error", (err) => {
        if (!ready) reject(err);
      });
      socket.on("event", (obj) => {
        // The wire frame is `42["event",<json>]`: measured once, it is the same for all.
        if (!this.bytes) this.bytes = `42["event",${JSON.stringify(obj)}]`.length;
        this.handlers.event(this, obj.bench_i, obj.bench_t, Number.NaN, this.bytes);
      });
      socket.on("disconnect", () => this.handlers.close(this));
    });
  }
  /** An abrupt drop: the underlying TCP socket goes, no close handshake. */
  terminate() {
    const ws = this.socket?.io?.engine?.transport?.ws;
    if (ws?.terminate) ws.terminate();
    else this.socket?.disconnect();
  }
  close() {
    this.socket?.disconnect();
  }
}

/** Keep-alive HTTP POST with bounded sockets; resolves with the status code. */
function makePoster(base, headers, maxSockets) {
  const agent = new http.Agent({ keepAlive: true, maxSockets });
  const url = new URL(base);
  return {
    /** Resolves with the status code, and the body when `withBody` (status 0 on a transport error). */
    post(path, body, withBody = false) {
      return new Promise((resolve) => {
        const req = http.request(
          {
            host: url.hostname,
            port: url.port,
            path,
            method: "POST",
            agent,
            headers: { ...headers, "content-length": Buffer.byteLength(body) },
          },
          (res) => {
            const chunks = [];
            res.on("data", (c) => withBody && chunks.push(c));
            res.on("end", () =>
              resolve(withBody ? { status: res.statusCode, body: Buffer.concat(chunks).toString("utf8") } : res.statusCode),
            );
            res.on("error", () => resolve(withBody ? { status: 0, body: "" } : 0));
          },
        );
        req.setTimeout(30_000, () => req.destroy(new Error("timeout")));
        req.on("error", () => resolve(withBody ? { status: 0, body: "" } : 0));
        req.end(body);
      });
    },
    close: () => agent.destroy(),
  };
}

/** One adapter per server kind: channel setup, publish and subscribe. */
export async function makeAdapter(kind, base, { maxSockets = 16 } = {}) {
  const wsBase = base.replace(/^http/, "ws").replace(/\/$/, "");
  const plainBase = base.replace(/\/$/, "");
  if (kind === "hub") {
    const poster = makePoster(plainBase, { authorization: `Bearer ${PRODUCER_KEY}`, "content-type": "application/json" }, maxSockets);
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: "HS256" })
      .setSubject(BENCH_USER)
      .setExpirationTime("2h")
      .sign(new TextEncoder().encode(JWT_SECRET));
    // Like the client SDK, every socket pings (the runtime answers without waking the hub):
    // a socket silent for two heartbeat intervals is reaped, which a slow run can reach.
    const live = new Set();
    const pinger = setInterval(() => {
      for (const ws of live) if (ws.readyState === WebSocket.OPEN) ws.send(PING_FRAME);
    }, PING_EVERY_MS);
    pinger.unref();
    const adapter = {
      base: plainBase,
      wsBase,
      token,
      live,
      async setup(channels) {
        for (const ch of channels) {
          const status = await poster.post("/v1/jobs", JSON.stringify({ id: ch, owner: BENCH_USER }));
          if (status !== 201 && status !== 200) throw new Error(`creating job ${ch}: HTTP ${status}`);
        }
      },
      publish: (ch, i) => poster.post(`/v1/jobs/${ch}/events`, JSON.stringify({ data: payload(i) })),
      /** One bulk request: `items` are `{job, ...update}`; resolves with how many items failed. */
      async bulk(items) {
        const { status, body } = await poster.post("/v1/jobs/events", JSON.stringify(items), true);
        if (status !== 200) return items.length;
        return JSON.parse(body).failed;
      },
      subscriber: (ch, handlers) => new HubSub(adapter, ch, handlers),
      resumes: true,
      close: () => {
        clearInterval(pinger);
        poster.close();
      },
    };
    return adapter;
  }
  const poster = makePoster(plainBase, { "content-type": "application/json" }, maxSockets);
  const adapter = {
    base: plainBase,
    wsBase,
    async setup() {},
    publish: (ch, i) => poster.post(`/publish/${ch}`, JSON.stringify(payload(i))),
    subscriber: (ch, handlers) => (kind === "ws" ? new WsSub(adapter, ch, handlers) : new SocketIoSub(adapter, ch, handlers)),
    resumes: false,
    close: () => poster.close(),
  };
  return adapter;
}
