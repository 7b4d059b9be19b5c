// A stream's sockets in live mode (GET /v1/ws/stream/<path>): hibernatable, each one's
// position kept on its attachment, so a stream that wakes up knows where every reader is.
// Appends are coalesced: the first change arms a short timer (STREAM_SOCKET_COALESCE_MS)
// and everything appended until it fires goes out as one frame (or a few, 64 KiB each) per
// socket. Sockets at the same offset share the frames, built once.
import type { HubConfig } from "../config";
import { HubError } from "../errors";
import { type Attachment, Connections } from "../hub/connections";
import { FrameRateLimiter } from "../hub/frame-rate";
import { Heartbeats } from "../hub/heartbeat";
import { readClientFrame } from "../hub/intake";
import { expOnHubClock, SessionControl } from "../hub/session-control";
import type { Timers } from "../hub/timers";
import { newId } from "../ids";
import { CloseCode, HEARTBEAT_FRAME, PONG_FRAME, type StreamConnectedData, type UserRef } from "../protocol";
import { closeQuietly, refuseSocket, upgradeHeaders } from "../websocket";
import { READ_BUDGET_BYTES, type StreamContext } from "./context";
import { formatOffset, type Position, parseOffset, samePosition } from "./offsets";
import type { WatchSpec } from "./operation";
import { startOf } from "./reads";
import { closedFrame, encodingOf, framesFor } from "./socket-frames";
import type { StreamMeta } from "./store";

/** A stream socket's attachment: who, and the offset it has been sent up to. */
interface StreamAttachment extends Attachment {
  offset: string;
}

export class StreamSockets {
  readonly connections: Connections;
  readonly heartbeats: Heartbeats;
  private readonly rate: FrameRateLimiter;
  /** For `auth` frames only: a token refreshed in place, checked like any socket's. */
  private readonly session: SessionControl;
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
    });
  }

  private ts(): string {
    return new Date(this.stream.now()).toISOString();
  }

  /** Accepts a socket: `connected`, then the catch-up from its offset, all before any await. */
  accept(meta: StreamMeta, spec: WatchSpec): Response {
    const refusal = this.refusal(spec.identity.id);
    if (refusal) return refuseSocket(CloseCode.TooManyConnections, refusal, spec.subprotocol);
    let start: Position;
    try {
      start = startOf(this.stream, spec.from);
    } catch (err) {
      if (err instanceof HubError) return refuseSocket(CloseCode.Policy, err.message, spec.subprotocol);
      throw err;
    }
    const { 0: client, 1: server } = new WebSocketPair();
    const now = this.stream.now();
    const { identity } = spec;
    const user: UserRef = identity.name ? { id: identity.id, name: identity.name } : { id: identity.id };
    const exp = expOnHubClock(identity.expiresAt, now);
    const who: StreamAttachment = {
      cid: newId(),
      user,
      at: now,
      offset: formatOffset(start),
      ...(exp !== undefined ? { exp } : {}),
      ...(identity.jti !== undefined ? { jti: identity.jti } : {}),
    };
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
    this.heartbeats.start(now, exp);
    this.stream.touch();
    return new Response(null, { status: 101, webSocket: client, headers: upgradeHeaders(spec.subprotocol) });
  }

  /** Why one more socket of `userId` is too many, or null. */
  private refusal(userId: string): string | null {
    const open = this.connections.attachments();
    const { maxSockets } = this.config.streams;
    if (open.length >= maxSockets) return `this stream has ${maxSockets} sockets already`;
    const mine = open.filter((who) => who.user.id === userId).length;
    return mine >= this.config.maxSocketsPerChannel ? `at most ${this.config.maxSocketsPerChannel} sockets per user on one stream` : null;
  }

  /** An append or a close: frames go out when the coalescing window ends. */
  changed(): void {
    if (this.connections.count() > 0) this.schedule(this.config.streams.socketCoalesceMs);
  }

  /** The stream was deleted or expired. */
  gone(): void {
    for (const ws of this.connections.open()) this.connections.close(ws, CloseCode.NotFound, "stream not found");
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
        this.connections.close(ws, CloseCode.Normal, "stream closed");
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
      this.connections.close(ws, intake.code, intake.reason);
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
      const renewed = await this.session.refresh(ws, from, intake.frame, `stream:${this.stream.store.meta()?.path ?? ""}`);
      ws.send(JSON.stringify({ type: "ack", ts: this.ts(), data: { ...renewed, ref } }));
    } catch (err) {
      const error = err instanceof HubError ? err : new HubError("internal", "the frame could not be handled");
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "error", ts: this.ts(), data: { ref, ...error.toPayload() } }));
    }
  }

  /** The client closed (or the socket failed): answer the close, and stop beating when none is left. */
  closed(ws: WebSocket, code: number, reason: string): void {
    closeQuietly(ws, code, reason);
    this.rate.forget(this.connections.attachmentOf(ws).cid);
    // A deleted stream's storage (its timers with it) may be gone before its sockets' echoes come.
    if (this.connections.count() === 0 && this.stream.store.hasTables()) this.heartbeats.stop();
  }

  /** The heartbeat timer: closes expired and silent sockets, beats the others. */
  beat(): void {
    const frame = JSON.stringify({ type: HEARTBEAT_FRAME, ts: this.ts(), data: { interval_ms: this.config.heartbeatMs } });
    this.heartbeats.beat(
      this.stream.now(),
      frame,
      (ws, reason) => this.connections.close(ws, CloseCode.GoingAway, reason),
      (ws) => this.connections.close(ws, CloseCode.Unauthorized, "token expired"),
    );
  }
}
