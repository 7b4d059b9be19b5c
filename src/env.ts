// Optional secrets and vars that neither wrangler.toml nor .dev.vars.example name, so
// `wrangler types` cannot see them. (DEV_MODE, PRODUCER_KEYS and JWT_SECRET come from
// .dev.vars.example; in production they may be unset, which config.ts handles.)
declare global {
  interface DovetailSecrets {
    JWT_PUBLIC_JWKS?: string;
    JWT_JWKS_URL?: string;
    JWT_ISSUER?: string;
    JWT_AUDIENCE?: string;
    JWT_ALGORITHMS?: string;
    TICKET_SECRET?: string;
    // users and rooms
    INBOX_MAX?: string;
    INBOX_TTL_DAYS?: string;
    MAX_SOCKETS_PER_USER?: string;
    ROOM_HISTORY?: string;
    ROOM_SNAPSHOT_MESSAGES?: string;
    RETAINED_MAX?: string;
    RETAINED_MAX_BYTES?: string;
    CONTACTS_MAX?: string;
    OFFLINE_DELAY_S?: string;
    MAX_FRAME_BYTES?: string;
    MAX_BODY_BYTES?: string;
    LOG_RETENTION?: string;
    MAX_FRAMES_PER_S?: string;
    FRAME_BURST?: string;
    FRAME_RATE_STRIKES?: string;
    LOG_MAX_AGE_S?: string;
    JOB_TTL_S?: string;
    BATCH_REPORT_INTERVAL_MS?: string;
    STREAM_MAX_APPEND_BYTES?: string;
    STREAM_MAX_BYTES?: string;
    STREAM_LONG_POLL_TIMEOUT_MS?: string;
    STREAM_SSE_MAX_S?: string;
    STREAM_MAX_LIVE_READERS?: string;
    STREAM_MAX_PRODUCERS?: string;
    STREAM_DEFAULT_TTL_S?: string;
  }
  interface Env extends DovetailSecrets {}
  namespace Cloudflare {
    interface Env extends DovetailSecrets {}
  }
}

export {};
