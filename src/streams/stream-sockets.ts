// A stream's sockets in live mode (GET /v1/ws/stream/<path>): hibernatable, each one's
// position kept on its attachment, so a stream that wakes up knows where every reader is.
// Appends are coalesced: the first change arms a short timer (STREAM_SOCKET_COALESCE_MS)
// and everything appended until it fires goes out as one frame (or a few, 64 KiB each) per
// socket. Sockets at the same offset share the frames, built once.
// A user's stream sockets take part in session control like channel sockets: admitted by
// the user's session registry (caps, deny-list) as `stream:<path>`, told of the last one
// leaving, and closed by a disconnect or a revocation.
import { streamEntry } from "../channel-kinds";
import type { HubConfig } from "../config";
import { HubError } from "../errors";
import { type Attachment, Connections, type Refusal } from "../hub/connections";
import { FrameRateLimiter } from "../hub/frame-rate";
import { Heartbeats } from "../hub/heartbeat";
import { readClientFrame } from "../hub/intake";
import { SessionControl } from "../hub/session-control";
import type { Timers } from "../hub/timers";
import { newId } from "../ids";
import { CloseCode, HEARTBEAT_FRAME, PONG_FRAME, type StreamConnectedData, type UserRef } from "../protocol";
import { closeQuietly, refuseSocket, upgradeHeaders } from "../websocket";
import { READ_BUDGET_BYTES, type StreamContext } from "./context";
import { formatOffset, type Position, parseOffset, type ReadFrom, samePosition } from "./offsets";
import type { WatchSpec } from "./operation";
import { startOf } from "./reads";
import { closedFrame, encodingOf, framesFor } from "./socket-frames";
import type { StreamMeta } from "./store";

/** A stream socket's attachment: who, on which stream, and the offset it has been sent up to. */
interface StreamAttachment extends Attachment {
  path: string;
  offset: string;
}

export class StreamSockets {
  readonly connections: Connections;
  readonly heartbeats: Heartbeats;
  private readonly rate: FrameRateLimiter;
  /** Admission, the leave, `auth` frames, and closing a user's sockets: as on every channel. */
  readonly session: SessionControl;
  private flushTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    ctx: DurableObjectState,
    env: Env,
    private readonly stream: StreamContext,
    private readonly config: HubConfig,
    timers: Timers,
  ) {
    this.connections = new Connections(ctx);
    this.heartbeats = new Heartbeats(ctx, this.connections, timers, config.heartbeatMs, config.tokenGraceMs);
    this.rate = new FrameRateLimiter(config.frameRate);
    this.session = new SessionControl({
      config,
      sockets: this.connections,
      heartbeats: this.heartbeats,
      now: () => stream.now(),
      waitUntil: (promise) => ctx.waitUntil(promise),
      registry: (userId) => env.USER_HUB.getByName(userId),
      // Who may read was decided by the Worker from the path; a refresh only renews the token.
      admit: () => null,
      attachmentExtras: () => ({}),
      drop: (ws, code, reason) => this.drop(ws, code, reason),
    });
  }

  private ts(): string {
    return new Date(this.stream.now()).toISOString();
  }

  /**
   * Accepts a socket on stream `path`: the stream's own checks, then the user's session
   * registry (an await, so the stream's checks are asked again after it), then
   * `connected` and the catch-up from its offset, with no await between them.
   */
  async accept(path: string, spec: WatchSpec): Promise<Response> {
    const { identity, subprotocol } = spec;
    const first = this.opening(spec.from);
    if ("code" in first) return refuseSocket(first.code, first.reason, subprotocol);
    const channel = streamEntry(path);
    const refusal = await this.session.admit({ channel, identity, subprotocol });
    if (refusal) return refuseSocket(refusal.code, refusal.reason, subprotocol);
    const now = this.stream.now();
    const user: UserRef = identity.name ? { id: identity.id, name: identity.name } : { id: identity.id };
    const who: StreamAttachment = { cid: newId(), user, at: now, path, offset: "", ...this.session.attachmentFor(identity, channel) };
    const ready = this.opening(spec.from);
    if ("code" in ready) {
      // Admitted by the registry but never opened: it leaves at once.
      this.leave(who);
      return refuseSocket(ready.code, ready.reason, subprotocol);
    }
    const { meta, start } = ready;
    who.offset = formatOffset(start);
    const { 0: client, 1: server } = new WebSocketPair();
    this.connections.accept(server, who);
    const connected: StreamConnectedData = {
      connection_id: who.cid,
      user,
      offset: who.offset,
      next_offset: formatOffset(this.stream.store.tail()),
      closed: meta.closed,
      content_type: meta.contentType,
      encoding: encodingOf(meta.contentType),
      heartbeat_ms: this.config.heartbeatMs,
    };
    server.send(JSON.stringify({ type: "connected", ts: this.ts(), data: connected }));
    if (this.deliver(meta, start, [server])) this.schedule(0);
    this.heartbeats.start(now, who.exp);
    this.stream.touch();
    return new Response(null, { status: 101, webSocket: client, headers: upgradeHeaders(subprotocol) });
  }

  /** Where a new socket would start, or why it cannot open: the stream gone or full, or an offset not its own. */
  private opening(from: ReadFrom): { meta: StreamMeta; start: Position } | Refusal {
    const meta = this.stream.current();
    if (!meta || meta.gone) return { code: CloseCode.NotFound, reason: "stream not found" };
    const { maxSockets } = this.config.streams;
    if (this.connections.count() >= maxSockets)
      return { code: CloseCode.TooManyConnections, reason: `this stream has ${maxSockets} sockets already` };
    try {
      return { meta, start: startOf(this.stream, from) };
    } catch (err) {
      if (err instanceof HubError) return { code: CloseCode.Policy, reason: err.message };
      throw err;
    }
  }

  /** An append or a close: frames go out when the coalescing window ends. */
  changed(): void {
    if (this.connections.count() > 0) this.schedule(this.config.streams.socketCoalesceMs);
  }

  /** The stream was deleted or expired. */
  gone(): void {
    for (const ws of this.connections.open()) this.drop(ws, CloseCode.NotFound, "stream not found");
    this.heartbeats.stop();
  }

  private schedule(delayMs: number): void {
    if (this.flushTimer !== null) return;
    this.flushTimer = setTimeout(() => this.flush(), delayMs);
  }

  /** Sends every socket what it has not seen, grouping sockets by offset. */
  flush(): void {
    this.flushTimer = null;
    const meta = this.stream.current();
    if (!meta || meta.gone) {
      this.gone();
      return;
    }
    const groups = new Map<string, WebSocket[]>();
    for (const ws of this.connections.open()) {
      const { offset } = this.connections.attachmentOf(ws) as StreamAttachment;
      groups.set(offset, [...(groups.get(offset) ?? []), ws]);
    }
    let behind = false;
    for (const [offset, sockets] of groups) behind = this.deliver(meta, parseOffset(offset) as Position, sockets) || behind;
    if (behind) this.schedule(0);
  }

  /**
   * Sends `sockets` (all at `from`) the appends after it, up to READ_BUDGET_BYTES, and
   * `stream:closed` once a closed stream is all sent. True when more is left to send.
   */
  private deliver(meta: StreamMeta, from: Position, sockets: WebSocket[]): boolean {
    const tail = this.stream.store.tail();
    let next = from;
    let more = false;
    if (!samePosition(from, tail)) {
      const { rows, next: readTo } = this.stream.store.readFrom(from, READ_BUDGET_BYTES);
      const last = samePosition(readTo, tail);
      const batch = framesFor(encodingOf(meta.contentType), from, rows, this.ts(), last && meta.closed);
      for (const ws of sockets) for (const frame of batch.frames) ws.send(frame);
      next = batch.next;
      more = !last && batch.frames.length > 0;
      if (!samePosition(next, from))
        for (const ws of sockets) this.connections.update(ws, { offset: formatOffset(next) } as Partial<StreamAttachment>);
    }
    if (meta.closed && samePosition(next, tail)) {
      const frame = closedFrame(this.ts(), tail);
      for (const ws of sockets) {
        ws.send(frame);
        this.drop(ws, CloseCode.Normal, "stream closed");
      }
    }
    return more;
  }

  /** Stream sockets only read: pings are answered, `auth` renews the token, anything else is refused. */
  async message(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    if (ws.readyState !== WebSocket.OPEN) return;
    const from = this.connections.attachmentOf(ws);
    const now = this.stream.now();
    const intake = readClientFrame(message, this.rate.check(from.cid, now), {
      maxFrameBytes: this.config.maxFrameBytes,
      perSecond: this.config.frameRate.perSecond,
    });
    if (intake.action === "close") {
      this.drop(ws, intake.code, intake.reason);
      return;
    }
    this.heartbeats.noteTraffic(ws, from, now);
    if (intake.action === "pong") {
      ws.send(PONG_FRAME);
      return;
    }
    const ref = intake.action === "handle" ? intake.frame.ref : undefined;
    try {
      if (intake.action === "refuse") throw intake.error;
      if (intake.frame.type !== "auth") throw new HubError("validation_failed", `a stream socket takes no "${intake.frame.type}" frames`);
      const renewed = await this.session.refresh(ws, from, intake.frame, streamEntry((from as StreamAttachment).path));
      ws.send(JSON.stringify({ type: "ack", ts: this.ts(), data: { ...renewed, ref } }));
    } catch (err) {
      const error = err instanceof HubError ? err : new HubError("internal", "the frame could not be handled");
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "error", ts: this.ts(), data: { ref, ...error.toPayload() } }));
    }
  }

  /** The client closed (or the socket failed): answer the close, leave once, and stop beating when none is left. */
  closed(ws: WebSocket, code: number, reason: string): void {
    closeQuietly(ws, code, reason);
    const who = this.connections.attachmentOf(ws) as StreamAttachment;
    if (!who.left) this.leave(who);
    // A deleted stream's storage (its timers with it) may be gone before its sockets' echoes come.
    if (this.connections.count() === 0 && this.stream.store.hasTables()) this.heartbeats.stop();
  }

  /** The heartbeat timer: closes expired and silent sockets, beats the others. */
  beat(): void {
    const frame = JSON.stringify({ type: HEARTBEAT_FRAME, ts: this.ts(), data: { interval_ms: this.config.heartbeatMs } });
    this.heartbeats.beat(
      this.stream.now(),
      frame,
      (ws, reason) => this.drop(ws, CloseCode.GoingAway, reason),
      (ws) => this.drop(ws, CloseCode.Unauthorized, "token expired"),
    );
  }

  /** Closes a socket from this side (limits, reaping, the stream's end, session control) and handles its leave now, once. */
  private drop(ws: WebSocket, code: number, reason: string): void {
    const who = this.connections.close(ws, code, reason);
    if (who) this.leave(who as StreamAttachment);
  }

  /** The session registry hears of a leave only when it was the user's last socket on this stream. */
  private leave(who: StreamAttachment): void {
    this.rate.forget(who.cid);
    this.session.left(who, streamEntry(who.path));
  }
}
