import { DurableObject } from "cloudflare:workers";
import * as v from "valibot";
import type { Identity } from "../auth/jwt";
import { type HubConfig, readConfig } from "../config";
import { HubError } from "../errors";
import { newId } from "../ids";
import { log } from "../log";
import { CloseCode, type ConnectedData, PING_FRAME, PONG_FRAME, type ServerFrame, type UserRef } from "../protocol";
import { closeQuietly, upgradeHeaders } from "../sockets";
import { EVENT_LOG_SCHEMA, EventLog, type LoggedEvent } from "./event-log";
import { migrate } from "./schema";

/** What the Worker tells a hub about a socket it has already authenticated. */
export interface ConnectRequest {
  channel: string;
  identity: Identity;
  since?: number;
  epoch?: string;
  subprotocol: boolean;
}
export const CONNECT_HEADER = "x-dovetail-connect";

/** Kept on each socket with serializeAttachment, so it survives hibernation (16 KiB max). */
export interface Attachment {
  cid: string;
  user: UserRef;
  at: number;
}

export interface Refusal {
  code: CloseCode;
  reason: string;
}

export interface ComponentSchema {
  component: string;
  steps: readonly string[];
}

/** Every client frame starts like this; hubs validate the rest per type. */
const ClientEnvelope = v.object({
  type: v.pipe(v.string(), v.maxLength(64)),
  ref: v.optional(v.union([v.pipe(v.string(), v.maxLength(64)), v.number()])),
});
export type ClientEnvelope = v.InferOutput<typeof ClientEnvelope>;

/**
 * What every channel does, whatever its kind: hibernatable sockets with an attachment,
 * the event log with resume, the ping auto-response, and a close handler that always
 * answers. Subclasses say who may join, what the snapshot is, and which client frames
 * they accept.
 */
export abstract class Hub<Snapshot = unknown> extends DurableObject<Env> {
  protected readonly config: HubConfig;
  protected readonly sql: SqlStorage;
  protected readonly log: EventLog;
  /** Milliseconds since the epoch. Replaced in tests to move time without sleeping. */
  now: () => number = () => Date.now();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.config = readConfig(env);
    this.sql = ctx.storage.sql;
    // SQL is synchronous, so migrating here completes before any request is delivered.
    migrate(ctx.storage, "hub", EVENT_LOG_SCHEMA);
    const own = this.schema();
    migrate(ctx.storage, own.component, own.steps);
    this.log = new EventLog(this.sql, this.retention());
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING_FRAME, PONG_FRAME));
  }

  protected abstract schema(): ComponentSchema;
  /** Null admits the socket; a refusal closes it with that code. `channel` is "room:42". */
  protected abstract admit(identity: Identity, channel: string): Refusal | null;
  /** How many events the log keeps. Called from the constructor: use only `this.config`. */
  protected retention(): number {
    return this.config.logRetention;
  }
  protected abstract snapshot(identity: Identity): Snapshot;

  /** Handles a parsed client frame. Throw HubError to answer with an `error` frame. */
  protected onClientFrame(_ws: WebSocket, _from: Attachment, frame: ClientEnvelope & Record<string, unknown>): void | Promise<void> {
    throw new HubError("validation_failed", `unknown frame type "${frame.type}"`);
  }
  protected onJoin(_ws: WebSocket, _who: Attachment): void {}
  protected onLeave(_ws: WebSocket, _who: Attachment): void {}

  /** The channel this object serves ("job:42"), remembered from its first write. */
  protected get channel(): string {
    return this.log.readMeta("channel") ?? "";
  }

  protected bindChannel(channel: string): void {
    if (this.log.readMeta("channel") !== channel) this.log.writeMeta("channel", channel);
  }

  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
      return Response.json({ error: { code: "upgrade_required", message: "expected a WebSocket upgrade" } }, { status: 426 });
    }
    const header = request.headers.get(CONNECT_HEADER);
    const connect = header ? (JSON.parse(decodeURIComponent(header)) as ConnectRequest) : null;
    if (!connect) return Response.json({ error: { code: "internal", message: "missing connect request" } }, { status: 500 });
    return this.acceptConnection(connect);
  }

  private acceptConnection(req: ConnectRequest): Response {
    const { 0: client, 1: server } = new WebSocketPair();
    const refusal = this.admit(req.identity, req.channel);
    if (refusal) {
      server.accept();
      closeQuietly(server, refusal.code, refusal.reason);
      log("socket.refused", { channel: req.channel, user: req.identity.id, code: refusal.code, reason: refusal.reason });
      return new Response(null, { status: 101, webSocket: client, headers: upgradeHeaders(req.subprotocol) });
    }
    this.bindChannel(req.channel);
    const user: UserRef = req.identity.name ? { id: req.identity.id, name: req.identity.name } : { id: req.identity.id };
    const who: Attachment = { cid: newId(), user, at: this.now() };
    this.ctx.acceptWebSocket(server);
    server.serializeAttachment(who);

    // No await from here to the return: the replay is queued on the socket before any
    // live event can be, so a client sees missed events strictly before new ones.
    const replay = this.log.replayAfter(req.since, req.epoch);
    const connected: ConnectedData<Snapshot> = {
      connection_id: who.cid,
      user,
      epoch: this.log.epoch,
      seq: this.log.lastSeq,
      resumed: replay !== null,
      snapshot: this.snapshot(req.identity),
      heartbeat_ms: this.config.heartbeatMs,
    };
    server.send(this.frame("connected", connected));
    for (const frame of replay ?? []) server.send(frame);
    this.onJoin(server, who);
    log("socket.connected", { channel: req.channel, user: user.id, cid: who.cid, resumed: replay !== null, replayed: replay?.length ?? 0 });
    return new Response(null, { status: 101, webSocket: client, headers: upgradeHeaders(req.subprotocol) });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    if (typeof message !== "string") {
      this.sendError(ws, undefined, new HubError("unsupported_data", "binary frames are not accepted; send JSON text"));
      return;
    }
    // length counts UTF-16 units, at most 3 UTF-8 bytes each: encode only when it may matter.
    if (message.length * 3 > this.config.maxFrameBytes && new TextEncoder().encode(message).length > this.config.maxFrameBytes) {
      closeQuietly(ws, CloseCode.TooBig, `frame larger than ${this.config.maxFrameBytes} bytes`);
      return;
    }
    let frame: unknown;
    try {
      frame = JSON.parse(message);
    } catch {
      this.sendError(ws, undefined, new HubError("validation_failed", "frame is not valid JSON"));
      return;
    }
    const envelope = v.safeParse(ClientEnvelope, frame);
    if (!envelope.success) {
      this.sendError(ws, undefined, new HubError("validation_failed", 'a frame is a JSON object with a string "type"'));
      return;
    }
    const { type, ref } = envelope.output;
    if (type === "ping") {
      ws.send(PONG_FRAME);
      return;
    }
    try {
      await this.onClientFrame(ws, this.attachmentOf(ws), frame as ClientEnvelope & Record<string, unknown>);
    } catch (err) {
      this.sendError(ws, ref, err);
    }
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    closeQuietly(ws, code, reason);
    this.leave(ws, code);
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    closeQuietly(ws, CloseCode.Internal, "socket error");
    this.leave(ws, CloseCode.Internal);
  }

  /**
   * Closes a socket from the server side (reaping, expiry, limits). The runtime calls
   * webSocketClose only for closes the client starts, so the leave hook runs here.
   */
  protected dropSocket(ws: WebSocket, code: number, reason: string): void {
    closeQuietly(ws, code, reason);
    this.leave(ws, code);
  }

  private leave(ws: WebSocket, code: number): void {
    const who = this.attachmentOf(ws);
    this.onLeave(ws, who);
    log("socket.closed", { channel: this.channel, user: who.user.id, cid: who.cid, code });
  }

  protected attachmentOf(ws: WebSocket): Attachment {
    return ws.deserializeAttachment() as Attachment;
  }

  /** Open sockets only: getWebSockets() also returns ones that are closing. */
  protected openSockets(): WebSocket[] {
    return this.ctx.getWebSockets().filter((ws) => ws.readyState === WebSocket.OPEN);
  }

  /**
   * Logs an event and fans it out: serialized once, the same string to every socket
   * (but those `except` matches, which still get it on replay).
   */
  protected publish(type: string, data: unknown, except?: (who: Attachment) => boolean): LoggedEvent {
    const event = this.log.append(this.channel, type, data, this.now());
    this.broadcast(event.frame, except);
    return event;
  }

  protected broadcast(frame: string, except?: (who: Attachment) => boolean): void {
    for (const ws of this.ctx.getWebSockets()) {
      if (ws.readyState !== WebSocket.OPEN) continue;
      if (except?.(this.attachmentOf(ws))) continue;
      ws.send(frame);
    }
  }

  /** An ephemeral frame: no seq, not logged, not replayed. */
  protected frame(type: string, data: unknown): string {
    const frame: ServerFrame = { type, channel: this.channel, ts: new Date(this.now()).toISOString(), data };
    return JSON.stringify(frame);
  }

  protected ack(ws: WebSocket, ref: string | number | undefined, extra: Record<string, unknown> = {}): void {
    ws.send(this.frame("ack", { ...extra, ref }));
  }

  protected sendError(ws: WebSocket, ref: string | number | undefined, err: unknown): void {
    const error = err instanceof HubError ? err : new HubError("internal", "internal error");
    if (!(err instanceof HubError)) log("socket.error", { channel: this.channel, error: String(err) });
    if (ws.readyState === WebSocket.OPEN) ws.send(this.frame("error", { ref, code: error.code, message: error.message }));
  }
}

/** Validates a client frame against its schema, as a HubError the client can read. */
export function parseFrame<S extends v.GenericSchema>(schema: S, frame: unknown): v.InferOutput<S> {
  const result = v.safeParse(schema, frame);
  if (!result.success) {
    const issue = result.issues[0];
    const path = issue ? v.getDotPath(issue) : null;
    throw new HubError("validation_failed", path ? `${path}: ${issue?.message}` : (issue?.message ?? "invalid frame"));
  }
  return result.output;
}
