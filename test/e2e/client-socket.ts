// A `ws` client that records frames and tracks resume state like a real client would.
import WebSocket from "ws";

export class RecordingSocket {
  readonly frames: any[] = [];
  epoch?: string;
  lastSeq = 0;
  ws!: WebSocket;
  private waiters: (() => void)[] = [];

  constructor(
    private readonly url: (resume: string) => string,
    private readonly protocols: string[],
  ) {}

  /** Opens (or re-opens with since/epoch) and resolves on the `connected` frame. */
  open(): Promise<any> {
    const resume = this.epoch ? `since=${this.lastSeq}&epoch=${this.epoch}` : "since=0";
    const ws = new WebSocket(this.url(resume), this.protocols);
    this.ws = ws;
    ws.on("message", (data) => {
      // A terminated socket can still emit frames it had buffered; a real client has
      // dropped that socket, and its resume point was taken before they arrived.
      if (ws !== this.ws) return;
      const frame = JSON.parse(String(data));
      this.frames.push(frame);
      if (frame.type === "connected") this.epoch = frame.data.epoch;
      if (typeof frame.seq === "number") this.lastSeq = frame.seq;
      for (const w of this.waiters.splice(0)) w();
    });
    return this.until(() => this.frames.findLast((f) => f.type === "connected" && f.at === undefined), "connected", 30_000).then((f) => {
      f.at = Date.now(); // mark consumed, so a reconnect waits for its own
      return f;
    });
  }

  logged(): any[] {
    return this.frames.filter((f) => typeof f.seq === "number");
  }

  until<T>(check: () => T | undefined, what: string, timeoutMs = 15_000): Promise<T> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what} (last seq ${this.lastSeq})`)), timeoutMs);
      const test = () => {
        const found = check();
        if (found !== undefined) {
          clearTimeout(timer);
          resolve(found);
        } else this.waiters.push(test);
      };
      test();
    });
  }
}
