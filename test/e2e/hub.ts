// The hub for the client and browser tests, on top of the shared harness (./harness.ts):
// test-only secrets as bindings, nothing read from .dev.vars.
import { createServer } from "node:net";
import type { SocketFactory } from "../../packages/client/src/index";
import { startHub as startRunningHub } from "./harness";

export const E2E_AUDIENCE = "dovetail-e2e";

export interface Hub {
  url: string;
  origin: string;
  produce<T = any>(path: string, body: unknown, method?: string): Promise<T>;
  mintToken(sub: string, options?: { name?: string; expiresIn?: string | number }): Promise<string>;
  dispose(): Promise<void>;
}

/** A free port picked up front, so ALLOWED_ORIGINS can name the page's own origin. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

/**
 * The hub for client and browser tests: the shared harness, on a port picked up front so
 * that ALLOWED_ORIGINS can name the page's own origin, with a POST helper that returns JSON.
 */
export async function startHub(options: { devMode?: boolean; vars?: Record<string, string> } = {}): Promise<Hub> {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const hub = await startRunningHub({
    port,
    vars: {
      DEV_MODE: options.devMode ? "1" : "0",
      JWT_AUDIENCE: E2E_AUDIENCE,
      ALLOWED_ORIGINS: origin,
      HEARTBEAT_INTERVAL_S: "30",
      ...options.vars,
    },
  });
  return {
    url: hub.url.origin,
    origin,
    async produce(path, body, method = "POST") {
      const res = await hub.produce(path, body, method);
      const text = await res.text();
      if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${text}`);
      return JSON.parse(text);
    },
    mintToken: (sub, { name, expiresIn } = {}) => hub.token(sub, name ? { name } : {}, expiresIn),
    dispose: hub.stop,
  };
}

let counter = 0;
export function uniqueId(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${++counter}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Resolves when `check` returns a value; rejects after `timeoutMs` saying what was awaited. */
export async function until<T>(what: string, check: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

type SocketClass = new (url: string, protocols: string[]) => { readyState: number };

/**
 * A WebSocket class (Node's own by default) that remembers every socket a client opens,
 * so a test can drop one, count tries, or see which are still open.
 */
export function recordingSockets<B extends SocketClass = typeof WebSocket>(Base: B = WebSocket as unknown as B) {
  const opened: InstanceType<B>[] = [];
  const Recording = class extends (Base as SocketClass) {
    constructor(url: string, protocols: string[]) {
      super(url, protocols);
      opened.push(this as InstanceType<B>);
    }
  };
  return { opened, open: () => opened.filter((s) => s.readyState <= 1), WebSocket: Recording as unknown as SocketFactory };
}
