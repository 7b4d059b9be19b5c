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
    MAX_FRAME_BYTES?: string;
    MAX_BODY_BYTES?: string;
    LOG_RETENTION?: string;
    LOG_MAX_AGE_S?: string;
    JOB_TTL_S?: string;
    BATCH_REPORT_INTERVAL_MS?: string;
  }
  interface Env extends DovetailSecrets {}
  namespace Cloudflare {
    interface Env extends DovetailSecrets {}
  }
}

export {};
