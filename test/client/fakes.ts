// In-process fakes for the client: a socket the test plays the server for, and timers
// the test moves by hand. Nothing here sleeps.
import type { SocketLike, Timers } from "../../packages/client/src/types";

export class FakeTimers implements Timers {
  now = 0;
  private nextId = 0;
  readonly tasks = new Map<number, { at: number; ms: number; fn: () => void }>();

  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.nextId;
    this.tasks.set(id, { at: this.now + ms, ms, fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.tasks.delete(handle as number);
  }

  /** The delays of the timers still pending, as they were requested. */
  pending(): number[] {
    return [...this.tasks.values()].map((t) => t.ms).sort((a, b) => a - b);
  }

  /** Moves time forward, running due timers in order (including ones they schedule). */
  advance(ms: number): void {
    const target = this.now + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.tasks) if (entry[1].at <= target && (!next || entry[1].at < next[1].at)) next = entry;
      if (!next) break;
      this.tasks.delete(next[0]);
      this.now = next[1].at;
      next[1].fn();
    }
    this.now = target;
  }
}

export class FakeSocket implements SocketLike {
  static instances: FakeSocket[] = [];
  readyState = 0;
  readonly sent: string[] = [];
  closedByClient: { code?: number; reason?: string } | undefined;
  onopen: ((event: any) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: any) => void) | null = null;

  constructor(
    readonly url: string,
    readonly protocols: string[],
  ) {
    FakeSocket.instances.push(this);
  }

  static reset(): void {
    FakeSocket.instances = [];
  }

  static last(): FakeSocket {
    const socket = FakeSocket.instances.at(-1);
    if (!socket) throw new Error("no socket was opened");
    return socket;
  }

  get token(): string | undefined {
    return this.protocols.find((p) => p.startsWith("bearer."))?.slice("bearer.".length);
  }

  get query(): URLSearchParams {
    return new URL(this.url).searchParams;
  }

  /** What the client sent, pings aside (it pings on open and on an interval). */
  sentFrames(): Record<string, any>[] {
    return this.sent.map((s) => JSON.parse(s)).filter((f) => f.type !== "ping");
  }

  send(data: string): void {
    if (this.readyState !== 1) throw new Error("send on a socket that is not open");
    this.sent.push(data);
  }

  close(code?: number, reason?: string): void {
    this.closedByClient = { code, reason };
    this.readyState = 3;
  }

  /** Server side: accept and send `connected`. */
  accept(data: { epoch?: string; seq?: number; resumed?: boolean; snapshot?: unknown; user?: { id: string; name?: string } } = {}): void {
    this.readyState = 1;
    this.onopen?.({});
    this.push("connected", {
      connection_id: "c1",
      user: data.user ?? { id: "alice" },
      epoch: data.epoch ?? "E1",
      seq: data.seq ?? 0,
      resumed: data.resumed ?? false,
      snapshot: data.snapshot ?? null,
      heartbeat_ms: 30_000,
    });
  }

  push(type: string, data: unknown, seq?: number): void {
    const frame = { type, channel: "x", ts: new Date(0).toISOString(), data, ...(seq !== undefined ? { seq } : {}) };
    this.onmessage?.({ data: JSON.stringify(frame) });
  }

  serverClose(code: number, reason = ""): void {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
}
