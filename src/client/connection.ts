import { BEARER_PREFIX, type ConnectedData, PING_FRAME, type ServerFrame, SUBPROTOCOL } from "../protocol";
import { type BackoffOptions, backoffDelay } from "./backoff";
import { CloseCode, closeAction, DovetailError } from "./codes";
import type { SocketFactory, SocketLike, Status, StatusChange, Timers } from "./types";

/** Everything a connection needs from its client, resolved from the options. */
export interface ConnectionContext {
  baseUrl: string;
  tokens: TokenCache;
  WebSocket: SocketFactory;
  backoff: BackoffOptions;
  rateLimitedMinMs: number;
  pingIntervalMs: number;
  pongTimeoutMs: number;
  sendTimeoutMs: number;
  timers: Timers;
  random: () => number;
  now: () => number;
  /** The client's latest round-trip time, whichever channel measured it. */
  latency: { rttMs?: number };
}

export interface ConnectionHooks {
  /** The `connected` frame; `data.resumed` false means rebuild from `data.snapshot`. */
  connected(data: ConnectedData): void;
  /** Every other frame, each logged seq exactly once and in order. */
  frame(frame: ServerFrame): void;
  status(change: StatusChange): void;
}

export type AckPayload = { ref?: string | number } & Record<string, unknown>;

interface Pending {
  resolve: (ack: AckPayload) => void;
  reject: (err: DovetailError) => void;
  timer: unknown;
}

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
  private pingTimer: unknown;
  private watchdog: unknown;
  private nextRef = 0;
  /** When the oldest unanswered ping left; pongs come back in order, so the next pong is its. */
  private pingSentAt: number | undefined;
  rttMs: number | undefined;
  private readonly pending = new Map<string, Pending>();
  private readonly outbox: string[] = [];

  constructor(
    private readonly path: string,
    private readonly ctx: ConnectionContext,
    private readonly hooks: ConnectionHooks,
  ) {}

  start(): void {
    this.setStatus({ status: "connecting", reason: "starting" });
    void this.connect();
  }

  /** Sends a frame with a fresh `ref`; settles on the server's `ack` or `error` for it. */
  request(type: string, body: Record<string, unknown> = {}, timeoutMs = this.ctx.sendTimeoutMs): Promise<AckPayload> {
    if (this.stopped) return Promise.reject(new DovetailError("closed", "the channel is closed"));
    const ref = `r${++this.nextRef}`;
    const text = JSON.stringify({ ...body, type, ref });
    return new Promise<AckPayload>((resolve, reject) => {
      const timer = this.ctx.timers.setTimeout(() => {
        this.pending.delete(ref);
        const queued = this.outbox.indexOf(text);
        if (queued >= 0) this.outbox.splice(queued, 1);
        reject(new DovetailError("timeout", `no ack for "${type}" within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(ref, { resolve, reject, timer });
      // Queued while (re)connecting; flushed once the channel is open.
      if (this.isOpen()) this.ws!.send(text);
      else this.outbox.push(text);
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
      this.clearTimer("retryTimer");
      this.setStatus({ status: "reconnecting", reason, delayMs: 0, attempt: this.attempt });
      void this.connect();
    } else if (this.isOpen()) {
      this.ping();
    }
  }

  close(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.generation++;
    this.clearTimer("retryTimer");
    const ws = this.detach();
    try {
      ws?.close(CloseCode.Normal, "client closed");
    } catch {}
    this.failPending("closed", "the channel was closed");
    this.setStatus({ status: "closed", reason: "closed by the client" });
  }

  private isOpen(): boolean {
    return this.status === "open" && this.ws !== undefined && this.ws.readyState === OPEN;
  }

  private url(): string {
    const base = this.ctx.baseUrl.replace(/^http/i, "ws").replace(/\/+$/, "");
    const params = new URLSearchParams();
    if (this.epoch !== undefined && this.lastSeq !== undefined) {
      params.set("since", String(this.lastSeq));
      params.set("epoch", this.epoch);
    }
    const query = params.toString();
    return `${base}${this.path}${query ? `?${query}` : ""}`;
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
    this.feedWatchdog();
  }

  private receive(text: string): void {
    this.feedWatchdog();
    let frame: ServerFrame<string, any>;
    try {
      frame = JSON.parse(text);
    } catch {
      return;
    }
    switch (frame.type) {
      case "pong":
        this.measure();
        return;
      case "heartbeat":
        return;
      case "connected":
        this.onConnected(frame.data as ConnectedData);
        return;
      case "ack":
      case "error":
        if (this.settle(frame)) return;
        break;
    }
    if (typeof frame.seq === "number") {
      // Never deliver a seq twice, and never skip one silently.
      if (this.lastSeq !== undefined && frame.seq <= this.lastSeq) return;
      if (this.lastSeq !== undefined && frame.seq !== this.lastSeq + 1) {
        this.abandon(`gap: expected seq ${this.lastSeq + 1}, got ${frame.seq}`);
        return;
      }
      this.lastSeq = frame.seq;
    }
    this.hooks.frame(frame);
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
    for (const text of this.outbox.splice(0)) this.ws?.send(text);
    // A first ping at once gives a round-trip time without waiting a ping interval.
    this.ping();
    this.schedulePing();
  }

  /**
   * The ping is the exact text the hub's auto-response answers without waking the object,
   * so the timestamp stays here rather than in the frame (which would wake it and cost).
   */
  private ping(): void {
    this.pingSentAt ??= this.ctx.now();
    this.ws!.send(PING_FRAME);
  }

  private measure(): void {
    if (this.pingSentAt === undefined) return;
    this.rttMs = Math.max(0, this.ctx.now() - this.pingSentAt);
    this.ctx.latency.rttMs = this.rttMs;
    this.pingSentAt = undefined;
    if (this.status === "open") this.setStatus({ status: "open", reason: "round trip measured" });
  }

  private settle(frame: ServerFrame<string, any>): boolean {
    const ref = frame.data?.ref;
    const pending = ref === undefined ? undefined : this.pending.get(String(ref));
    if (!pending) return false;
    this.pending.delete(String(ref));
    this.ctx.timers.clearTimeout(pending.timer);
    if (frame.type === "ack") pending.resolve(frame.data as AckPayload);
    else pending.reject(new DovetailError(String(frame.data.code ?? "error"), String(frame.data.message ?? "error")));
    return true;
  }

  private schedulePing(): void {
    this.clearTimer("pingTimer");
    this.pingTimer = this.ctx.timers.setTimeout(() => {
      this.pingTimer = undefined;
      if (!this.isOpen()) return;
      this.ping();
      this.schedulePing();
    }, this.ctx.pingIntervalMs);
  }

  /** Any frame (pong, heartbeat, event) proves the connection alive; silence beyond this kills it. */
  private feedWatchdog(): void {
    this.clearTimer("watchdog");
    const limit = this.ctx.pingIntervalMs + this.ctx.pongTimeoutMs;
    this.watchdog = this.ctx.timers.setTimeout(() => {
      this.watchdog = undefined;
      this.abandon(`no pong or heartbeat for ${limit} ms`);
    }, limit);
  }

  /** Gives up on the current socket without waiting for its close (it may never come). */
  private abandon(reason: string): void {
    const ws = this.detach();
    try {
      ws?.close(CloseCode.Normal, "reconnecting");
    } catch {}
    this.failPending("disconnected", `connection lost (${reason})`);
    this.scheduleRetry(reason);
  }

  private dropped(code: number, reason: string): void {
    this.detach();
    this.failPending("disconnected", `connection closed (${code}${reason ? `: ${reason}` : ""})`);
    if (this.stopped) return;
    const why = `closed ${code}${reason ? `: ${reason}` : ""}`;
    switch (closeAction(code)) {
      case "stop":
        this.stopped = true;
        this.setStatus({ status: "closed", reason: why, code });
        return;
      case "refresh_token":
        if (!this.ctx.tokens.refreshable) {
          this.stopped = true;
          this.setStatus({ status: "closed", reason: `${why} (a fixed token cannot be refreshed)`, code });
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

  private scheduleRetry(reason: string, code?: number, minMs = 0): void {
    if (this.stopped) return;
    this.generation++;
    const delay = Math.max(minMs, backoffDelay(this.attempt, this.ctx.backoff, this.ctx.random));
    const attempt = ++this.attempt;
    this.clearTimer("retryTimer");
    this.setStatus({ status: "reconnecting", reason, ...(code !== undefined ? { code } : {}), delayMs: delay, attempt });
    this.retryTimer = this.ctx.timers.setTimeout(() => {
      this.retryTimer = undefined;
      void this.connect();
    }, delay);
  }

  private detach(): SocketLike | undefined {
    const ws = this.ws;
    this.ws = undefined;
    this.pingSentAt = undefined;
    this.clearTimer("pingTimer");
    this.clearTimer("watchdog");
    if (ws) {
      ws.onmessage = null;
      ws.onclose = null;
      ws.onopen = null;
    }
    return ws;
  }

  private failPending(code: string, message: string): void {
    this.outbox.length = 0;
    for (const [ref, pending] of this.pending) {
      this.pending.delete(ref);
      this.ctx.timers.clearTimeout(pending.timer);
      pending.reject(new DovetailError(code, message));
    }
  }

  private clearTimer(name: "retryTimer" | "pingTimer" | "watchdog"): void {
    if (this[name] !== undefined) {
      this.ctx.timers.clearTimeout(this[name]);
      this[name] = undefined;
    }
  }

  private setStatus(change: StatusChange): void {
    this.status = change.status;
    this.hooks.status(this.rttMs === undefined ? change : { ...change, rttMs: this.rttMs });
  }
}

/** One token for every channel of a client; one fetch however many channels hit a 4001. */
export class TokenCache {
  private value: string | undefined;
  private inflight: Promise<string> | undefined;

  constructor(private readonly source: string | (() => string | Promise<string>)) {
    if (typeof source === "string") this.value = source;
  }

  get refreshable(): boolean {
    return typeof this.source === "function";
  }

  get(): Promise<string> {
    return this.value !== undefined ? Promise.resolve(this.value) : this.fetch();
  }

  /** A new token, unless another channel already replaced the rejected one. */
  refresh(rejected: string | undefined): Promise<string> {
    if (this.value !== undefined && this.value !== rejected) return Promise.resolve(this.value);
    this.value = undefined;
    return this.fetch();
  }

  private fetch(): Promise<string> {
    const source = this.source;
    if (typeof source === "string") return Promise.resolve(source);
    this.inflight ??= Promise.resolve()
      .then(source)
      .then(
        (token) => {
          this.inflight = undefined;
          if (typeof token !== "string" || token === "") throw new DovetailError("unauthorized", "the token function returned no token");
          this.value = token;
          return token;
        },
        (err) => {
          this.inflight = undefined;
          throw err;
        },
      );
    return this.inflight;
  }
}
