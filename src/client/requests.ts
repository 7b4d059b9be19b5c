import type { ServerFrame } from "../protocol";
import { DovetailError } from "./codes";
import type { Timers } from "./types";

export type AckPayload = { ref?: string | number } & Record<string, unknown>;

interface Pending {
  resolve: (ack: AckPayload) => void;
  reject: (err: DovetailError) => void;
  timer: unknown;
}

/**
 * A channel's sends that wait for an answer: each frame gets a fresh `ref`, and settles on
 * the server's `ack` or `error` carrying it, or on a timeout. Frames sent while the socket
 * is (re)connecting wait in order and go out once it is open.
 */
export class Requests {
  private nextRef = 0;
  private readonly pending = new Map<string, Pending>();
  private readonly queued: string[] = [];

  constructor(private readonly timers: Timers) {}

  /** `sendNow` sends the frame if the socket is open, and says whether it did. */
  send(type: string, body: Record<string, unknown>, timeoutMs: number, sendNow: (text: string) => boolean): Promise<AckPayload> {
    const ref = `r${++this.nextRef}`;
    const text = JSON.stringify({ ...body, type, ref });
    return new Promise<AckPayload>((resolve, reject) => {
      const timer = this.timers.setTimeout(() => {
        this.pending.delete(ref);
        const at = this.queued.indexOf(text);
        if (at >= 0) this.queued.splice(at, 1);
        reject(new DovetailError("timeout", `no ack for "${type}" within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(ref, { resolve, reject, timer });
      if (!sendNow(text)) this.queued.push(text);
    });
  }

  /** Sends what waited for the socket to open. */
  flush(send: (text: string) => void): void {
    for (const text of this.queued.splice(0)) send(text);
  }

  /** Settles the request an `ack` or `error` frame answers; false when it answers none. */
  settle(frame: ServerFrame<string, any>): boolean {
    const ref = frame.data?.ref;
    const pending = ref === undefined ? undefined : this.pending.get(String(ref));
    if (!pending) return false;
    this.pending.delete(String(ref));
    this.timers.clearTimeout(pending.timer);
    if (frame.type === "ack") pending.resolve(frame.data as AckPayload);
    else pending.reject(new DovetailError(String(frame.data.code ?? "error"), String(frame.data.message ?? "error")));
    return true;
  }

  /** The connection is gone: every request fails, and nothing queued is sent later. */
  failAll(code: string, message: string): void {
    this.queued.length = 0;
    for (const [ref, pending] of this.pending) {
      this.pending.delete(ref);
      this.timers.clearTimeout(pending.timer);
      pending.reject(new DovetailError(code, message));
    }
  }
}
