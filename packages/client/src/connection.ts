import {
  BEARER_PREFIX,
  type ConnectedData,
  type ServerFrame,
  SKIP_FRAME,
  type SkipData,
  SUBPROTOCOL,
} from "../../../src/protocol/index.js";
import { backoffDelay } from "./backoff.js";
import { CloseCode, closeAction, DovetailError, stopErrorCode } from "./codes.js";
import type { ConnectionContext, ConnectionHooks } from "./context.js";
import { Liveness } from "./liveness.js";
import { type AckPayload, Requests } from "./requests.js";
import { RoundTrip } from "./round-trip.js";
import { TokenRefresher } from "./tokens.js";
import type { SocketLike, Status, StatusChange } from "./types.js";

const OPEN = 1;

/**
 * One socket to one channel, kept alive across drops: backoff, token refresh, resume
 * with since/epoch, ping and silence detection, and ref-matched replies for send().
 */
export class Connection {
  status: Status = "connecting";
  private ws: SocketLike | undefined;
  private usedToken: string | undefined;
  private epoch: string | undefined;
  private lastSeq: number | undefined;
  private attempt = 0;
  private unauthorizedStreak = 0;
  private refreshToken = false;
  private stopped = false;
  /** Bumped on every attempt so a late token or socket event from an old attempt is ignored. */
  private generation = 0;
  private retryTimer: unknown;
  private readonly liveness: Liveness;
  private readonly requests: Requests;
  /** Names this connection to the hub across reconnects, so a send repeated after a drop is acted on once. */
  private readonly clientKey = globalThis.crypto.randomUUID().replaceAll("-", "");
  /** Replaces the token on the open socket (an `auth` frame) before it expires. */
  private readonly refresher: TokenRefresher;
  readonly roundTrip: RoundTrip;
  private readonly silent = (reason: string) => this.abandon(reason);

  constructor(
    private readonly path: string,
    private readonly ctx: ConnectionContext,
    private readonly hooks: ConnectionHooks,
  ) {
    this.requests = new Requests(ctx.timers, ctx.queue, (count) => hooks.queued(count));
    this.liveness = new Liveness(ctx.timers, ctx.pingIntervalMs, ctx.pongTimeoutMs);
    this.roundTrip = new RoundTrip(ctx.now, ctx.roundTrips);
    this.refresher = new TokenRefresher(
      ctx,
      (token) => this.request("auth", { token }),
      (token) => {
        this.usedToken = token;
      },
    );
  }

  start(): void {
    this.setStatus({ status: "connecting", reason: "starting" });
    void this.connect();
  }

  /** Sends a frame with a fresh `ref`; settles on the server's `ack` or `error` for it. */
  request(type: string, body: Record<string, unknown> = {}, timeoutMs = this.ctx.sendTimeoutMs): Promise<AckPayload> {
    if (this.stopped) return Promise.reject(new DovetailError("closed", "the channel is closed"));
    return this.requests.send(type, body, timeoutMs, (text) => {
      if (!this.isOpen()) return false;
      this.ws!.send(text);
      return true;
    });
  }

  /** Fire-and-forget (typing): sent only if open right now, never queued. */
  notify(type: string, body: Record<string, unknown> = {}): boolean {
    if (!this.isOpen()) return false;
    this.ws!.send(JSON.stringify({ ...body, type }));
    return true;
  }

  /** The network came back or the tab became visible: skip the backoff, or check liveness. */
  wake(reason: string): void {
    if (this.stopped) return;
    if (this.status === "reconnecting" && this.retryTimer !== undefined) {
      this.clearRetry();
      this.setStatus({ status: "reconnecting", reason, delayMs: 0, attempt: this.attempt });
      void this.connect();
    } else if (this.isOpen()) {
      this.roundTrip.ping(this.ws!);
    }
  }

  close(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.generation++;
    this.clearRetry();
    const ws = this.detach();
    try {
      ws?.close(CloseCode.Normal, "client closed");
    } catch {}
    this.requests.failAll("closed", "the channel was closed");
    this.setStatus({ status: "closed", reason: "closed by the client" });
  }

  private isOpen(): boolean {
    return this.status === "open" && this.ws !== undefined && this.ws.readyState === OPEN;
  }

  /** The channel's URL, with since/epoch (or the hooks' own query) once there is something to resume from. */
  private url(): string {
    const base = this.ctx.baseUrl.replace(/^http/i, "ws").replace(/\/+$/, "");
    const { epoch, lastSeq } = this;
    // A stream resumes by its offset; a channel by since/epoch, with its client key (queued sends).
    const stream = this.hooks.resumeQuery?.();
    if (stream) return `${base}${this.path}?${new URLSearchParams(stream)}`;
    const params = new URLSearchParams(epoch !== undefined && lastSeq !== undefined ? { since: String(lastSeq), epoch } : {});
    params.set("client", this.clientKey);
    return `${base}${this.path}?${params}`;
  }

  private async connect(): Promise<void> {
    const generation = ++this.generation;
    let token: string;
    try {
      token = this.refreshToken ? await this.ctx.tokens.refresh(this.usedToken) : await this.ctx.tokens.get();
    } catch (err) {
      if (generation !== this.generation || this.stopped) return;
      this.scheduleRetry(`could not get a token: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    if (generation !== this.generation || this.stopped) return;
    this.refreshToken = false;
    this.usedToken = token;

    let ws: SocketLike;
    try {
      ws = new this.ctx.WebSocket(this.url(), [SUBPROTOCOL, `${BEARER_PREFIX}${token}`]);
    } catch (err) {
      this.scheduleRetry(`could not open a socket: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    this.ws = ws;
    ws.onmessage = (event) => {
      if (this.ws === ws && typeof event.data === "string") this.receive(event.data);
    };
    ws.onclose = (event) => {
      if (this.ws === ws) this.dropped(event.code, event.reason);
    };
    ws.onerror = () => {}; // a close event always follows
    // Also bounds the handshake: no `connected` frame in time counts as a dead connection.
    this.liveness.feed(this.silent); // any frame (pong, heartbeat, event) proves it alive
  }

  private receive(text: string): void {
    this.liveness.feed(this.silent);
    let frame: ServerFrame<string, any>;
    try {
      frame = JSON.parse(text);
    } catch {
      return;
    }
    switch (frame.type) {
      case "pong":
        this.roundTrip.pong();
        return;
      case "heartbeat":
        return;
      case "connected":
        this.onConnected(frame.data as ConnectedData);
        return;
      case "ack":
      case "error":
        if (this.requests.settle(frame)) return;
        break;
    }
    // `skip` stands in for a logged event this socket was excluded from: it takes that
    // seq, so the next event is no gap, and nothing is delivered.
    const skipped = frame.type === SKIP_FRAME;
    const seq = skipped ? (frame.data as SkipData | undefined)?.seq : frame.seq;
    if (typeof seq === "number") {
      // Never deliver a seq twice, and never skip one silently.
      if (this.lastSeq !== undefined && seq <= this.lastSeq) return;
      if (this.lastSeq !== undefined && seq !== this.lastSeq + 1) {
        this.abandon(`gap: expected seq ${this.lastSeq + 1}, got ${seq}`);
        return;
      }
      this.lastSeq = seq;
    }
    if (!skipped) this.hooks.frame(frame);
  }

  private onConnected(data: ConnectedData): void {
    this.epoch = data.epoch;
    // Resumed: the missed events follow and advance lastSeq. Not resumed: the snapshot is
    // the state as of data.seq, and live events continue from there.
    if (!data.resumed) this.lastSeq = data.seq;
    this.attempt = 0;
    this.unauthorizedStreak = 0;
    this.hooks.connected(data);
    this.setStatus({ status: "open", reason: data.resumed ? "resumed" : "connected" });
    this.requests.flush((text) => this.ws?.send(text));
    this.roundTrip.ping(this.ws!); // a round trip now, not one ping interval from now
    this.liveness.startPinging(() => {
      if (this.isOpen()) this.roundTrip.ping(this.ws!);
      return this.isOpen();
    });
    if (this.usedToken !== undefined) this.refresher.schedule(this.usedToken);
  }

  /** Gives up on the current socket without waiting for its close (it may never come). */
  private abandon(reason: string): void {
    const ws = this.detach();
    try {
      ws?.close(CloseCode.Normal, "reconnecting");
    } catch {}
    this.requests.requeue();
    this.scheduleRetry(reason);
  }

  private dropped(code: number, reason: string): void {
    this.detach();
    this.requests.requeue();
    if (this.stopped) return;
    const why = `closed ${code}${reason ? `: ${reason}` : ""}`;
    switch (closeAction(code)) {
      case "stop":
        this.stop(code, why);
        return;
      case "refresh_token":
        if (!this.ctx.tokens.refreshable) {
          this.stop(code, `${why} (a fixed token cannot be refreshed)`);
          return;
        }
        this.refreshToken = true;
        // The first 4001 retries at once with a new token; a second in a row backs off.
        if (this.unauthorizedStreak++ === 0) {
          this.setStatus({ status: "reconnecting", reason: `${why}; refreshing the token`, code, delayMs: 0, attempt: this.attempt });
          void this.connect();
        } else {
          this.scheduleRetry(`${why}; refreshing the token`, code);
        }
        return;
      case "back_off":
        this.scheduleRetry(why, code, this.ctx.rateLimitedMinMs);
        return;
      default:
        this.scheduleRetry(why, code);
    }
  }

  /** Closed for good by the hub: no retry, and every waiting send fails with a code saying why. */
  private stop(code: number, why: string): void {
    this.stopped = true;
    this.requests.failAll(stopErrorCode(code), `the channel is closed for good (${why})`);
    this.setStatus({ status: "closed", reason: why, code });
  }

  private scheduleRetry(reason: string, code?: number, minMs = 0): void {
    if (this.stopped) return;
    this.generation++;
    const delay = Math.max(minMs, backoffDelay(this.attempt, this.ctx.backoff, this.ctx.random));
    const attempt = ++this.attempt;
    this.clearRetry();
    this.setStatus({ status: "reconnecting", reason, ...(code !== undefined ? { code } : {}), delayMs: delay, attempt });
    this.retryTimer = this.ctx.timers.setTimeout(() => {
      this.retryTimer = undefined;
      void this.connect();
    }, delay);
  }

  private detach(): SocketLike | undefined {
    const ws = this.ws;
    this.ws = undefined;
    this.liveness.stop();
    this.roundTrip.forget();
    this.refresher.stop();
    if (ws) {
      ws.onmessage = null;
      ws.onclose = null;
      ws.onopen = null;
    }
    return ws;
  }

  private clearRetry(): void {
    if (this.retryTimer !== undefined) this.ctx.timers.clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  private setStatus(change: StatusChange): void {
    this.status = change.status;
    this.hooks.status(this.roundTrip.stamp(change));
  }
}
