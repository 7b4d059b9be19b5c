// Secrets and optional vars, which `wrangler types` cannot see in wrangler.toml.
declare global {
  interface DovetailSecrets {
    DEV_MODE?: string;
    PRODUCER_KEYS?: string;
    JWT_SECRET?: string;
    JWT_PUBLIC_JWKS?: string;
    JWT_JWKS_URL?: string;
    JWT_ISSUER?: string;
    JWT_AUDIENCE?: string;
    JWT_ALGORITHMS?: string;
    TICKET_SECRET?: string;
    // users and rooms (issue 3)
    INBOX_MAX?: string;
    INBOX_TTL_DAYS?: string;
    MAX_SOCKETS_PER_USER?: string;
    ROOM_HISTORY?: string;
    ROOM_SNAPSHOT_MESSAGES?: string;
    MAX_FRAME_BYTES?: string;
    MAX_BODY_BYTES?: string;
    LOG_RETENTION?: string;
  }
  interface Env extends DovetailSecrets {}
  namespace Cloudflare {
    interface Env extends DovetailSecrets {}
  }
}

export {};
