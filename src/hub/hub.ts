import type { Identity } from "../auth/jwt";
import { errorBody, HubError } from "../errors";
import { newId } from "../ids";
import { log } from "../log";
import { CloseCode, PONG_FRAME, type UserRef } from "../protocol";
import { EMIT_FRAME } from "../webhooks/channel-webhooks";
import { closeQuietly, refuseSocket, upgradeHeaders } from "../websocket";
import { type Attachment, type ConnectRequest, type Refusal, readConnectRequest } from "./connections";
import { FrameRateLimiter } from "./frame-rate";
import { HubCore } from "./hub-core";
import { type ClientFrame, readClientFrame } from "./intake";
import { SessionControl, type SessionRegistryStub } from "./session-control";

/**
 * The lifecycle every channel shares, whatever its kind: accept a socket, replay what it
 * missed, take its frames, publish, run timers, close. The work is done by components
 * (Connections, EventLog, Timers, ChannelCounters, StatsReporter, EventIdMemory,
 * SessionControl; storage and events in HubCore); subclasses fill in the hooks: who may
 * join, the snapshot, and the client frames they accept. `Events` maps the kind's event
 * types to their data (protocol/).
 */
export abstract class Hub<Snapshot = unknown, Events extends object = Record<never, never>> extends HubCore<Events> {
  private readonly frameRate: FrameRateLimiter;
  private readonly session: SessionControl;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.frameRate = new FrameRateLimiter(this.config.frameRate);
    this.session = new SessionControl({
      config: this.config,
      sockets: this.sockets,
      heartbeats: this.heartbeats,
      now: () => this.now(),
      waitUntil: (promise) => ctx.waitUntil(promise),
      registry: (userId) => this.sessionRegistry(userId),
      admit: (identity, channel) => this.admit(identity, channel),
      attachmentExtras: (identity, channel) => this.attachmentExtras(identity, channel),
      drop: (ws, code, reason) => this.dropSocket(ws, code, reason),
    });
  }

  // ---- hooks ----

  /** Null admits the socket; a refusal closes it with that code. `channel` is "room:42". */
  protected abstract admit(identity: Identity, channel: string): Refusal | null;
  protected abstract snapshot(identity: Identity): Snapshot;
  /** Handles a client frame that passed intake. Throw HubError to answer with an `error` frame. */
  protected onClientFrame(ws: WebSocket, from: Attachment, frame: ClientFrame): void | Promise<void> {
    if (frame.type === EMIT_FRAME) return this.ack(ws, frame.ref, { id: this.webhooks.emit(frame, from) });
    throw new HubError("validation_failed", `unknown frame type "${frame.type}"`);
  }
  protected onJoin(_ws: WebSocket, _who: Attachment): void {}
  protected onLeave(_ws: WebSocket, _who: Attachment): void {}
  /** After wipe(): drop whatever the subclass cached from storage. */
  protected onWiped(): void {}
  /** What a socket's attachment records about how it was admitted (a room: by the `rooms` claim). */
  protected attachmentExtras(_identity: Identity, _channel: string): Partial<Attachment> {
    return {};
  }
  /** Where `userId`'s session registry lives: the user's hub (which overrides this to answer itself). */
  protected sessionRegistry(userId: string): SessionRegistryStub {
    return this.env.USER_HUB.getByName(userId);
  }

  // ---- sockets ----

  override async fetch(request: Request): Promise<Response> {
    const req = readConnectRequest(request);
    if (req instanceof HubError) return Response.json(errorBody(req), { status: req.status });
    // The hub's own rule, then the caps and deny-list.
    const refusal = this.admit(req.identity, req.channel) ?? (await this.session.admit(req));
    if (refusal) return this.acceptConnection(req, refusal);
    // The rule is asked again after the await (a room PUT may have landed meanwhile); the
    // registry has already counted this socket, so a late refusal must tell it.
    const late = this.admit(req.identity, req.channel);
    if (late) this.session.abandoned(req.identity.id, req.channel);
    return this.acceptConnection(req, late);
  }

  private acceptConnection(req: ConnectRequest, refusal: Refusal | null): Response {
    if (refusal) {
      this.counters.add("refusals");
      this.reportStats();
      log("socket.refused", { channel: req.channel, user: req.identity.id, code: refusal.code, reason: refusal.reason });
      return refuseSocket(refusal.code, refusal.reason, req.subprotocol);
    }
    const { 0: client, 1: server } = new WebSocketPair();
    this.bindChannel(req.channel);
    const user: UserRef = req.identity.name ? { id: req.identity.id, name: req.identity.name } : { id: req.identity.id };
    const who: Attachment = {
      cid: req.cid ?? newId(),
      user,
      at: this.now(),
      ...(req.client ? { client: req.client } : {}),
      ...this.session.attachmentFor(req.identity, req.channel),
    };
    this.sockets.accept(server, who);

    // No await from here to the return: missed events go out strictly before live ones.
    const connected = { connection_id: who.cid, user, snapshot: this.snapshot(req.identity), heartbeat_ms: this.config.heartbeatMs };
    const replayed = this.publisher.greet(server, req, connected, this.now());
    this.onJoin(server, who);
    // One timer for all sockets; it stops itself when the last one leaves.
    this.heartbeats.start(who.at, who.exp);
    this.counters.add("connects");
    // A channel going from idle to watched is reported at once, like the last one leaving.
    this.reportStats(this.sockets.count() === 1);
    log("socket.connected", { channel: req.channel, user: user.id, cid: who.cid, resumed: replayed !== null, replayed: replayed ?? 0 });
    return new Response(null, { status: 101, webSocket: client, headers: upgradeHeaders(req.subprotocol) });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    // Frames queued before a server-side close (rate limit, reaping) still arrive: drop them.
    if (ws.readyState !== WebSocket.OPEN) return;
    const from = this.sockets.attachmentOf(ws);
    const rate = this.frameRate.check(from.cid, this.now());
    const intake = readClientFrame(message, rate, { maxFrameBytes: this.config.maxFrameBytes, perSecond: this.config.frameRate.perSecond });
    switch (intake.action) {
      case "close":
        if (intake.code === CloseCode.RateLimited) this.dropSocket(ws, intake.code, intake.reason);
        else closeQuietly(ws, intake.code, intake.reason);
        return;
      case "refuse":
        return this.sendError(ws, undefined, intake.error);
      case "pong":
        this.heartbeats.noteTraffic(ws, from, this.now());
        ws.send(PONG_FRAME);
        return;
      case "handle":
        this.heartbeats.noteTraffic(ws, from, this.now());
        if (this.publisher.answerAgain(ws, from, intake.frame.ref, this.now())) return;
        try {
          if (intake.frame.type === "auth")
            this.ack(ws, intake.frame.ref, await this.session.refresh(ws, from, intake.frame, this.channel));
          else await this.onClientFrame(ws, from, intake.frame);
        } catch (err) {
          this.sendError(ws, intake.frame.ref, err);
        }
    }
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    this.closedByClient(ws, code, reason);
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    this.closedByClient(ws, CloseCode.Internal, "socket error");
  }

  /** Always answers the close (or the client never gets its close frame), and handles the leave once. */
  private closedByClient(ws: WebSocket, code: number, reason: string): void {
    closeQuietly(ws, code, reason);
    const who = this.sockets.attachmentOf(ws);
    if (!who.left) this.leave(ws, who, code);
  }

  /** Closes a socket from the server side (reaping, expiry, limits) and handles its leave now, once. */
  protected dropSocket(ws: WebSocket, code: number, reason: string): void {
    const who = this.sockets.close(ws, code, reason);
    if (who) this.leave(ws, who, code);
  }

  private leave(ws: WebSocket, who: Attachment, code: number): void {
    this.frameRate.forget(who.cid);
    this.webhooks.forget(who.cid);
    this.session.left(who, this.channel);
    this.onLeave(ws, who);
    this.counters.add("closes");
    if (this.sockets.count() === 0) {
      this.heartbeats.stop();
      // The last socket leaving is reported at once, so totals never show a ghost socket.
      this.reportStats(true);
    }
    log("socket.closed", { channel: this.channel, user: who.user.id, cid: who.cid, code });
  }

  /** Closes expired and silent sockets, beats the others, and comes back while any is open. */
  protected beat(): void {
    const frame = this.frame("heartbeat", { interval_ms: this.config.heartbeatMs });
    const reap = (ws: WebSocket, reason: string) => this.dropSocket(ws, CloseCode.GoingAway, reason);
    const open = this.heartbeats.beat(this.now(), frame, reap, (ws) => this.dropSocket(ws, CloseCode.Unauthorized, "token expired"));
    // Keeps /v1/stats current while only watched; with none open (a restart dropped them
    // without a close) at once, or the totals would show ghost sockets.
    this.reportStats(open === 0);
  }

  /**
   * Deletes everything this channel stored and closes its sockets with 4004: the channel
   * is as if it never existed, and a new use of the id starts a new epoch.
   */
  protected async wipe(reason: string): Promise<void> {
    await this.webhooks.evacuate(reason); // undelivered webhooks outlive the channel as dead letters
    for (const ws of this.sockets.open()) this.dropSocket(ws, CloseCode.NotFound, reason);
    await this.ctx.storage.deleteAll();
    this.timers.forget();
    // Tables are gone too, and stay gone until a new first write: reads answer 404 meanwhile.
    this.tables.forget();
    this.events.reload();
    this.onWiped();
  }
  // ---- RPC ----

  /** How many sockets `userId` holds here: the session registry's re-count before it refuses. */
  userSockets(userId: string): number {
    return this.session.countOf(userId);
  }

  /** Closes `userId`'s sockets (only those opened with token `jti`, if given); answers how many. */
  closeUserSockets(userId: string, jti: string | null, code: CloseCode, reason: string): number {
    return this.session.closeUserSockets(userId, jti, code, reason);
  }
}
