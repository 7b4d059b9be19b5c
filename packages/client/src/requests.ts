import type { ServerFrame } from "../../../src/protocol/index.js";
import { DovetailError } from "./codes.js";
import type { Timers } from "./types.js";

export type AckPayload = { ref?: string | number } & Record<string, unknown>;

/** How many sends may wait for a connection, and for how long. */
export interface QueueOptions {
  /** Sends waiting at once (sent but unanswered ones count, since a drop puts them back). Default 100. */
  max: number;
  /** A send not answered within this, counted from the call, is rejected with `queue_expired`. Default 60 s. */
  maxAgeMs: number;
}

export const DEFAULT_QUEUE: QueueOptions = { max: 100, maxAgeMs: 60_000 };

interface Request {
  ref: string;
  type: string;
  text: string;
  resolve: (ack: AckPayload) => void;
  reject: (err: DovetailError) => void;
  /** The age bound, from the call; while in flight it only marks the request expired. */
  ageTimer: unknown;
  /** The answer deadline, while in flight. */
  ackTimer: unknown;
  timeoutMs: number;
  expired: boolean;
}

/**
 * A channel's sends that wait for an answer, kept in order across reconnects. Each frame
 * gets a `ref` once; sends made while the socket is not open wait in the queue, and a
 * frame sent but not answered when the socket drops goes back to the front of it. After
 * the resume, the queue goes out in order with the same refs: the hub answers a ref it
 * has seen from this client from memory, so each send is acted on once.
 */
export class Requests {
  private nextRef = 0;
  private readonly waiting: Request[] = [];
  private readonly inFlight = new Map<string, Request>();

  constructor(
    private readonly timers: Timers,
    private readonly queue: QueueOptions,
    private readonly changed: (queued: number) => void,
  ) {}

  /** Sends waiting to go out (after a drop, the unanswered ones among them). */
  get queued(): number {
    return this.waiting.length;
  }

  /** `sendNow` sends the frame if the socket is open, and says whether it did. */
  send(type: string, body: Record<string, unknown>, timeoutMs: number, sendNow: (text: string) => boolean): Promise<AckPayload> {
    const ref = `r${++this.nextRef}`;
    const text = JSON.stringify({ ...body, type, ref });
    return new Promise<AckPayload>((resolve, reject) => {
      const request: Request = { ref, type, text, resolve, reject, ageTimer: undefined, ackTimer: undefined, timeoutMs, expired: false };
      if (sendNow(text)) {
        this.startAckTimer(request);
        return;
      }
      if (this.waiting.length + this.inFlight.size >= this.queue.max) {
        reject(new DovetailError("queue_full", `${this.queue.max} sends are already waiting for the connection`));
        return;
      }
      request.ageTimer = this.timers.setTimeout(() => this.expire(request), this.queue.maxAgeMs);
      this.waiting.push(request);
      this.changed(this.queued);
    });
  }

  /** The socket is open: what waited goes out, in order. */
  flush(send: (text: string) => void): void {
    if (this.waiting.length === 0) return;
    for (const request of this.waiting.splice(0)) {
      send(request.text);
      this.startAckTimer(request);
    }
    this.changed(0);
  }

  /** The socket dropped: frames sent without an answer wait again, ahead of the rest. */
  requeue(): void {
    if (this.inFlight.size === 0) return;
    const back: Request[] = [];
    for (const request of this.inFlight.values()) {
      this.timers.clearTimeout(request.ackTimer);
      if (request.expired) request.reject(expiredError(request));
      else back.push(request);
    }
    this.inFlight.clear();
    this.waiting.unshift(...back);
    this.changed(this.queued);
  }

  /** Settles the request an `ack` or `error` frame answers; false when it answers none. */
  settle(frame: ServerFrame<string, any>): boolean {
    const ref = frame.data?.ref;
    const request = ref === undefined ? undefined : this.inFlight.get(String(ref));
    if (!request) return false;
    this.forget(request);
    if (frame.type === "ack") request.resolve(frame.data as AckPayload);
    else request.reject(new DovetailError(String(frame.data.code ?? "error"), String(frame.data.message ?? "error")));
    return true;
  }

  /** The channel stopped for good: every send fails with `code`, and nothing is sent later. */
  failAll(code: string, message: string): void {
    const all = [...this.inFlight.values(), ...this.waiting.splice(0)];
    this.inFlight.clear();
    for (const request of all) {
      this.timers.clearTimeout(request.ackTimer);
      this.timers.clearTimeout(request.ageTimer);
      request.reject(new DovetailError(code, message));
    }
    if (all.length > 0) this.changed(0);
  }

  private startAckTimer(request: Request): void {
    this.inFlight.set(request.ref, request);
    request.ackTimer = this.timers.setTimeout(() => {
      this.forget(request);
      request.reject(new DovetailError("timeout", `no ack for "${request.type}" within ${request.timeoutMs} ms`));
    }, request.timeoutMs);
  }

  private expire(request: Request): void {
    request.expired = true;
    const at = this.waiting.indexOf(request);
    if (at < 0) return; // in flight: its answer may still come; a drop rejects it
    this.waiting.splice(at, 1);
    this.changed(this.queued);
    request.reject(expiredError(request));
  }

  private forget(request: Request): void {
    this.inFlight.delete(request.ref);
    this.timers.clearTimeout(request.ackTimer);
    this.timers.clearTimeout(request.ageTimer);
  }
}

function expiredError(request: Request): DovetailError {
  return new DovetailError("queue_expired", `"${request.type}" was not sent and answered in time; it was dropped`);
}
