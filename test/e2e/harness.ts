// Starts the hub on a real port (workerd through wrangler, no proxy in front of sockets
// beyond wrangler's own) and gives tests a producer and token minting.
import { SignJWT } from "jose";
import { unstable_startWorker } from "wrangler";

export const E2E_PRODUCER_KEY = "e2e_producer_key_0123456789abcdef";
export const E2E_JWT_SECRET = "e2e_jwt_secret_0123456789abcdef0123456789";

export interface RunningHub {
  url: URL;
  wsUrl: (path: string) => string;
  produce: (path: string, body?: unknown, method?: string) => Promise<Response>;
  /** A client JWT; carries the hub's JWT_AUDIENCE when it has one. */
  token: (sub: string, claims?: Record<string, unknown>, expiresIn?: string | number) => Promise<string>;
  stop: () => Promise<void>;
}

export interface HubOptions {
  vars?: Record<string, string>;
  /** A folder for Durable Object storage that outlives the process (restart tests). */
  persistTo?: string;
  /** A fixed port, when the caller must know its origin up front (ALLOWED_ORIGINS); else any free one. */
  port?: number;
}

export async function startHub(options: HubOptions = {}): Promise<RunningHub> {
  const vars = options.vars ?? {};
  process.env.WRANGLER_SEND_METRICS = "false";
  process.env.CLOUDFLARE_CF_FETCH_ENABLED = "false";
  const plain = (value: string) => ({ type: "plain_text" as const, value });
  // Every e2e client connects from 127.0.0.1, so the per-address limits are raised here;
  // their production values are tested in test/workers/limits.test.ts.
  const roomy = (namespace_id: string, period: 10 | 60) => ({
    type: "ratelimit" as const,
    namespace_id,
    simple: { limit: 1_000_000, period },
  });
  const bindings = {
    ...Object.fromEntries(
      // Tests open hundreds of one user's sockets on one job (resume under load): the
      // socket caps are tested at their real values in test/workers/sessions.test.ts.
      Object.entries({
        DEV_MODE: "0",
        PRODUCER_KEYS: E2E_PRODUCER_KEY,
        JWT_SECRET: E2E_JWT_SECRET,
        MAX_SOCKETS_PER_CHANNEL: "1000",
        MAX_SOCKETS_PER_USER: "1000",
        ...vars,
      }).map(([k, v]) => [k, plain(v)]),
    ),
    PRODUCER_RATE_LIMIT: roomy("1001", 10),
    UPGRADE_RATE_LIMIT: roomy("1002", 60),
    AUTH_FAILURE_RATE_LIMIT: roomy("1003", 60),
  };
  const worker = await unstable_startWorker({
    config: "wrangler.toml",
    bindings,
    // Production-shaped secrets of its own: never the dev defaults in .dev.vars.
    envFiles: [],
    dev: {
      server: { hostname: "127.0.0.1", port: options.port ?? 0 },
      inspector: false,
      persist: options.persistTo ?? false,
      logLevel: "warn",
    },
  });
  await worker.ready;
  const url = await worker.url;
  return {
    url,
    wsUrl: (path) => new URL(path, url).href.replace(/^http/, "ws"),
    produce: (path, body, method = "POST") =>
      fetch(new URL(path, url), {
        method,
        headers: { Authorization: `Bearer ${E2E_PRODUCER_KEY}`, "Content-Type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
    token: (sub, claims = {}, expiresIn = "10m") => {
      const jwt = new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setSubject(sub).setIssuedAt().setExpirationTime(expiresIn);
      if (vars.JWT_AUDIENCE) jwt.setAudience(vars.JWT_AUDIENCE);
      return jwt.sign(new TextEncoder().encode(E2E_JWT_SECRET));
    },
    stop: () => worker.dispose(),
  };
}
