// Starts the real Worker (wrangler's dev server, real HTTP/WebSocket port) for end-to-end
// tests, with test-only secrets passed as bindings: nothing is read from .dev.vars.
import { createServer } from "node:net";
import { SignJWT } from "jose";
import { unstable_startWorker } from "wrangler";

export const E2E_PRODUCER_KEY = "e2e_producer_key_0123456789abcdef";
export const E2E_JWT_SECRET = "e2e_jwt_secret_0123456789abcdef0123456789";
export const E2E_AUDIENCE = "dovetail-e2e";

export interface Hub {
  url: string;
  origin: string;
  produce<T = any>(path: string, body: unknown): Promise<T>;
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

export async function startHub(options: { devMode?: boolean } = {}): Promise<Hub> {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const vars: Record<string, string> = {
    DEV_MODE: options.devMode ? "1" : "0",
    PRODUCER_KEYS: E2E_PRODUCER_KEY,
    JWT_SECRET: E2E_JWT_SECRET,
    JWT_AUDIENCE: E2E_AUDIENCE,
    ALLOWED_ORIGINS: origin,
    HEARTBEAT_INTERVAL_S: "30",
  };
  const worker = await unstable_startWorker({
    config: "wrangler.toml",
    bindings: Object.fromEntries(Object.entries(vars).map(([k, value]) => [k, { type: "plain_text", value }])),
    dev: { server: { hostname: "127.0.0.1", port }, inspector: false, logLevel: "warn" },
  } as Parameters<typeof unstable_startWorker>[0]);
  await worker.ready;
  const url = (await worker.url).origin;

  return {
    url,
    origin,
    async produce(path, body) {
      const res = await fetch(`${url}${path}`, {
        method: "POST",
        headers: { Authorization: `Bearer ${E2E_PRODUCER_KEY}`, "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
      const text = await res.text();
      if (!res.ok) throw new Error(`POST ${path} answered ${res.status}: ${text}`);
      return JSON.parse(text);
    },
    mintToken(sub, { name, expiresIn = "10m" } = {}) {
      return new SignJWT(name ? { name } : {})
        .setProtectedHeader({ alg: "HS256" })
        .setSubject(sub)
        .setIssuedAt()
        .setAudience(E2E_AUDIENCE)
        .setExpirationTime(expiresIn)
        .sign(new TextEncoder().encode(E2E_JWT_SECRET));
    },
    dispose: () => worker.dispose(),
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
