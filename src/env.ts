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
    JWT_MAX_TTL_S?: string;
    TOKEN_GRACE_S?: string;
    MAX_SOCKETS_PER_CHANNEL?: string;
    ROOM_MESSAGES_PER_S?: string;
    ROOM_MESSAGE_BURST?: string;
    ROOM_TYPING_PER_S?: string;
    ROOM_MESSAGE_MAX_BYTES?: string;
    ROOM_SNAPSHOT_BYTES?: string;
    ROOM_MEMBER_SHARE_PCT?: string;
    REPLAY_MAX_BYTES?: string;
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
    STATS_SHARDS?: string;
    CHANNEL_SHARD_SOCKETS?: string;
    DIRECTORY_SHARDS?: string;
    METRICS_TOKEN?: string;
    STREAM_MAX_APPEND_BYTES?: string;
    STREAM_MAX_BYTES?: string;
    STREAM_LONG_POLL_TIMEOUT_MS?: string;
    STREAM_SSE_MAX_S?: string;
    STREAM_MAX_LIVE_READERS?: string;
    STREAM_MAX_PRODUCERS?: string;
    STREAM_DEFAULT_TTL_S?: string;
    STREAM_SOCKET_COALESCE_MS?: string;
    STREAM_MAX_SOCKETS?: string;
    JOB_MAX_LIFETIME_S?: string;
    BATCH_MAX_LIFETIME_S?: string;
    ROOM_IDLE_TTL_S?: string;
    USER_IDLE_TTL_S?: string;
    WEBHOOK_URL?: string;
    WEBHOOK_SECRET?: string;
    WEBHOOK_RETRY_BASE_MS?: string;
    MAX_EMITS_PER_S?: string;
    EMIT_BURST?: string;
  }
  interface Env extends DovetailSecrets {}
  namespace Cloudflare {
    interface Env extends DovetailSecrets {}
  }
}

export {};
