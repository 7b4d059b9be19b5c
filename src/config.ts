import "./env";
import { type OriginRule, parseOriginRules } from "./auth/origin";
import { intVar, list } from "./env-vars";
import type { FrameRateLimit } from "./hub/frame-rate";
import { parseWebhooks, type WebhookConfig } from "./webhooks/config";

export interface HubConfig {
  devMode: boolean;
  producerKeys: string[];
  jwt: {
    secret?: string;
    publicJwks?: string;
    jwksUrl?: string;
    issuer?: string;
    audience?: string;
    algorithms: string[];
    /** Longest lifetime accepted (exp - iat), in seconds. */
    maxTtlS: number;
  };
  /** What socket tickets are signed with; none on a hub with neither TICKET_SECRET nor JWT_SECRET. */
  ticketKey?: TicketKeySource;
  /** An open socket closes with 4001 this long after its token's exp, unless refreshed. */
  tokenGraceMs: number;
  allowedOrigins: OriginRule[];
  heartbeatMs: number;
  maxFrameBytes: number;
  maxBodyBytes: number;
  /** Users and rooms: inbox bounds, tabs per user, room history, retained values (count, bytes), contacts, offline delay. */
  inboxMax: number;
  inboxTtlMs: number;
  /** A user's sockets across every channel; the next is closed with 4009. */
  maxSocketsPerUser: number;
  /** A user's sockets on one channel (tabs on the same job, room, ...). */
  maxSocketsPerChannel: number;
  roomHistory: number;
  roomSnapshotMessages: number;
  retainedMax: number;
  retainedMaxBytes: number;
  contactsMax: number;
  offlineDelayMs: number;
  /** Per user and room, apart from the per-socket frame rate. Typing has its own, lower budget. */
  roomMessageRate: FrameRateLimit;
  roomTypingRate: FrameRateLimit;
  /** A room message as stored (text, data and the server's stamps), in UTF-8 bytes. */
  roomMessageMaxBytes: number;
  /** The messages in a room's `connected` snapshot, in UTF-8 bytes of JSON. */
  roomSnapshotBytes: number;
  /** The share of ROOM_HISTORY one member's messages may hold, in percent. */
  roomMemberSharePct: number;
  /** What one resume may replay, in bytes; past it the client gets the snapshot. */
  replayMaxBytes: number;
  logRetention: number;
  frameRate: FrameRateLimit;
  /** Logged events older than this are trimmed (every hub; rooms and users may shorten it). */
  logMaxAgeMs: number;
  /** A finished job (or batch) is deleted this long after its final state, unless it sets ttl_s. */
  jobTtlMs: number;
  /** A member job reports progress to its batches at most once per this. Final states go at once. */
  batchReportMs: number;
  /** Stats shard objects; a channel's reports go to one of them by the hash of its name. */
  statsShards: number;
  /** A room takes this many sockets in its own object; more land on its shard objects. */
  channelShardSockets: number;
  /** Shards of the directory of users with open sockets (broadcast). */
  directoryShards: number;
  /** A token that may read GET /metrics besides the producer keys (for a scraper). */
  metricsToken?: string;
  /** Who may read GET /metrics: the producer keys and METRICS_TOKEN. */
  metricsKeys: string[];
  /** Durable Streams limits (docs/streams.md#limits). */
  streams: StreamLimits;
  /** A job not final this long after its creation fails with `lifetime_exceeded`. */
  jobMaxLifetimeMs: number;
  /** A batch is deleted this long after its creation, finished or not. */
  batchMaxLifetimeMs: number;
  /** A room, or a user, with no socket and no producer event for this long is deleted. */
  roomIdleTtlMs: number;
  userIdleTtlMs: number;
  webhooks: WebhookConfig;
  /** Why this configuration must not serve (empty when it may). */
  problems: string[];
}

export interface StreamLimits {
  maxAppendBytes: number;
  maxStreamBytes: number;
  longPollTimeoutMs: number;
  sseMaxMs: number;
  maxLiveReaders: number;
  maxProducers: number;
  /** 0: a stream created without Stream-TTL or Stream-Expires-At never expires. */
  defaultTtlS: number;
  /** Appends within this window go to each socket as one frame (live mode). */
  socketCoalesceMs: number;
  /** Sockets in live mode per stream (each user also counts against MAX_SOCKETS_PER_CHANNEL). */
  maxSockets: number;
}

/** TICKET_SECRET as is, or a key derived from JWT_SECRET under a label (never a producer key). */
export interface TicketKeySource {
  secret: string;
  derived: boolean;
}

const DEV_MARKER = "not_for_production";
const cache = new WeakMap<Env, HubConfig>();

/** Parsed once per env object: a Worker isolate or a Durable Object instance. */
export function readConfig(env: Env): HubConfig {
  let config = cache.get(env);
  if (!config) {
    config = parseConfig(env);
    cache.set(env, config);
  }
  return config;
}

function parseConfig(env: Env): HubConfig {
  const problems: string[] = [];
  const devMode = env.DEV_MODE === "1";
  const producerKeys = list(env.PRODUCER_KEYS);
  const secret = env.JWT_SECRET || undefined;
  const publicJwks = env.JWT_PUBLIC_JWKS || undefined;
  const jwksUrl = env.JWT_JWKS_URL || undefined;

  const algorithms = list(env.JWT_ALGORITHMS);
  if (algorithms.length === 0) {
    if (secret) algorithms.push("HS256");
    if (publicJwks || jwksUrl) algorithms.push("RS256", "ES256");
  }
  if (algorithms.includes("none")) problems.push("JWT_ALGORITHMS must not include none");
  if (algorithms.some((a) => a.startsWith("HS")) && !secret) problems.push("an HS algorithm needs JWT_SECRET");

  if (producerKeys.length === 0) problems.push("PRODUCER_KEYS is not set");
  if (!secret && !publicJwks && !jwksUrl) problems.push("no JWT key: set JWT_SECRET, JWT_PUBLIC_JWKS or JWT_JWKS_URL");
  if (!devMode) {
    // Dev defaults live in .dev.vars.example; a deployed hub refuses them.
    if (producerKeys.some((k) => k.includes(DEV_MARKER) || k.length < 24)) {
      problems.push("PRODUCER_KEYS holds a dev key or a key shorter than 24 characters");
    }
    if (secret && (secret.includes(DEV_MARKER) || secret.length < 32)) {
      problems.push("JWT_SECRET is a dev secret or shorter than 32 characters");
    }
    if (env.TICKET_SECRET && (env.TICKET_SECRET.includes(DEV_MARKER) || env.TICKET_SECRET.length < 32)) {
      problems.push("TICKET_SECRET is a dev secret or shorter than 32 characters");
    }
  }
  // Tickets carry an identity, so only someone who may mint identities may sign them:
  // a producer key is not one, and a JWKS-only hub needs TICKET_SECRET for tickets.
  const ticketKey: TicketKeySource | undefined = env.TICKET_SECRET
    ? { secret: env.TICKET_SECRET, derived: false }
    : secret
      ? { secret, derived: true }
      : undefined;

  const origins = parseOriginRules(env.ALLOWED_ORIGINS ?? "");
  problems.push(...origins.problems);

  const webhooks = parseWebhooks(env, devMode, problems);

  return {
    devMode,
    producerKeys,
    jwt: {
      secret,
      publicJwks,
      jwksUrl,
      issuer: env.JWT_ISSUER || undefined,
      audience: env.JWT_AUDIENCE || undefined,
      algorithms,
      maxTtlS: intVar(env.JWT_MAX_TTL_S, 86_400, 60, 30 * 86_400, "JWT_MAX_TTL_S", problems),
    },
    ...(ticketKey ? { ticketKey } : {}),
    tokenGraceMs: intVar(env.TOKEN_GRACE_S, 30, 0, 60, "TOKEN_GRACE_S", problems) * 1000,
    allowedOrigins: origins.rules,
    heartbeatMs: intVar(env.HEARTBEAT_INTERVAL_S, 30, 1, 3600, "HEARTBEAT_INTERVAL_S", problems) * 1000,
    maxFrameBytes: intVar(env.MAX_FRAME_BYTES, 16_384, 64, 1_048_576, "MAX_FRAME_BYTES", problems),
    maxBodyBytes: intVar(env.MAX_BODY_BYTES, 65_536, 1_024, 1_048_576, "MAX_BODY_BYTES", problems),
    // Defaults and reasons: docs/users-and-rooms.md#limits.
    inboxMax: intVar(env.INBOX_MAX, 200, 1, 10_000, "INBOX_MAX", problems),
    inboxTtlMs: intVar(env.INBOX_TTL_DAYS, 30, 1, 365, "INBOX_TTL_DAYS", problems) * 86_400_000,
    maxSocketsPerUser: intVar(env.MAX_SOCKETS_PER_USER, 50, 1, 100_000, "MAX_SOCKETS_PER_USER", problems),
    // An object holds at most 32,768 sockets, so no channel can take more of anyone's.
    maxSocketsPerChannel: intVar(env.MAX_SOCKETS_PER_CHANNEL, 5, 1, 32_768, "MAX_SOCKETS_PER_CHANNEL", problems),
    roomHistory: intVar(env.ROOM_HISTORY, 1_000, 10, 100_000, "ROOM_HISTORY", problems),
    roomSnapshotMessages: intVar(env.ROOM_SNAPSHOT_MESSAGES, 50, 0, 500, "ROOM_SNAPSHOT_MESSAGES", problems),
    retainedMax: intVar(env.RETAINED_MAX, 100, 1, 10_000, "RETAINED_MAX", problems),
    retainedMaxBytes: intVar(env.RETAINED_MAX_BYTES, 131_072, 1_024, 1_048_576, "RETAINED_MAX_BYTES", problems),
    contactsMax: intVar(env.CONTACTS_MAX, 500, 1, 1_000, "CONTACTS_MAX", problems),
    offlineDelayMs: intVar(env.OFFLINE_DELAY_S, 10, 0, 300, "OFFLINE_DELAY_S", problems) * 1000,
    // A refusal here is an error frame, never a close: a chatty user is slowed, not cut off.
    roomMessageRate: {
      perSecond: intVar(env.ROOM_MESSAGES_PER_S, 5, 1, 1_000, "ROOM_MESSAGES_PER_S", problems),
      burst: intVar(env.ROOM_MESSAGE_BURST, 10, 1, 1_000, "ROOM_MESSAGE_BURST", problems),
      strikes: Number.MAX_SAFE_INTEGER,
    },
    roomTypingRate: {
      perSecond: intVar(env.ROOM_TYPING_PER_S, 2, 1, 100, "ROOM_TYPING_PER_S", problems),
      burst: 4,
      strikes: Number.MAX_SAFE_INTEGER,
    },
    roomMessageMaxBytes: intVar(env.ROOM_MESSAGE_MAX_BYTES, 8_192, 256, 65_536, "ROOM_MESSAGE_MAX_BYTES", problems),
    roomSnapshotBytes: intVar(env.ROOM_SNAPSHOT_BYTES, 65_536, 1_024, 1_048_576, "ROOM_SNAPSHOT_BYTES", problems),
    roomMemberSharePct: intVar(env.ROOM_MEMBER_SHARE_PCT, 25, 1, 100, "ROOM_MEMBER_SHARE_PCT", problems),
    replayMaxBytes: intVar(env.REPLAY_MAX_BYTES, 1_048_576, 16_384, 33_554_432, "REPLAY_MAX_BYTES", problems),
    logRetention: intVar(env.LOG_RETENTION, 1_000, 10, 100_000, "LOG_RETENTION", problems),
    frameRate: {
      perSecond: intVar(env.MAX_FRAMES_PER_S, 20, 1, 10_000, "MAX_FRAMES_PER_S", problems),
      burst: intVar(env.FRAME_BURST, 40, 1, 10_000, "FRAME_BURST", problems),
      strikes: intVar(env.FRAME_RATE_STRIKES, 10, 0, 1_000, "FRAME_RATE_STRIKES", problems),
    },
    logMaxAgeMs: intVar(env.LOG_MAX_AGE_S, 7 * 86_400, 60, 90 * 86_400, "LOG_MAX_AGE_S", problems) * 1000,
    jobTtlMs: intVar(env.JOB_TTL_S, 86_400, 1, 30 * 86_400, "JOB_TTL_S", problems) * 1000,
    batchReportMs: intVar(env.BATCH_REPORT_INTERVAL_MS, 1_000, 50, 60_000, "BATCH_REPORT_INTERVAL_MS", problems),
    // Changing these moves channels between shards: see docs/scaling.md.
    statsShards: intVar(env.STATS_SHARDS, 32, 1, 1_024, "STATS_SHARDS", problems),
    channelShardSockets: intVar(env.CHANNEL_SHARD_SOCKETS, 10_000, 10, 30_000, "CHANNEL_SHARD_SOCKETS", problems),
    directoryShards: intVar(env.DIRECTORY_SHARDS, 32, 1, 1_024, "DIRECTORY_SHARDS", problems),
    metricsToken: metricsToken(env.METRICS_TOKEN, devMode, problems),
    metricsKeys: env.METRICS_TOKEN ? [...producerKeys, env.METRICS_TOKEN] : producerKeys,
    streams: {
      // One append is one SQLite row, and a row holds at most 2 MB.
      maxAppendBytes: intVar(env.STREAM_MAX_APPEND_BYTES, 1_048_576, 1_024, 1_048_576, "STREAM_MAX_APPEND_BYTES", problems),
      maxStreamBytes: intVar(env.STREAM_MAX_BYTES, 64 * 1_048_576, 1_048_576, 1_073_741_824, "STREAM_MAX_BYTES", problems),
      longPollTimeoutMs: intVar(env.STREAM_LONG_POLL_TIMEOUT_MS, 20_000, 100, 120_000, "STREAM_LONG_POLL_TIMEOUT_MS", problems),
      sseMaxMs: intVar(env.STREAM_SSE_MAX_S, 60, 1, 3_600, "STREAM_SSE_MAX_S", problems) * 1000,
      maxLiveReaders: intVar(env.STREAM_MAX_LIVE_READERS, 200, 1, 10_000, "STREAM_MAX_LIVE_READERS", problems),
      maxProducers: intVar(env.STREAM_MAX_PRODUCERS, 1_000, 1, 100_000, "STREAM_MAX_PRODUCERS", problems),
      defaultTtlS: intVar(env.STREAM_DEFAULT_TTL_S, 7 * 86_400, 0, 315_360_000, "STREAM_DEFAULT_TTL_S", problems),
      socketCoalesceMs: intVar(env.STREAM_SOCKET_COALESCE_MS, 25, 0, 1_000, "STREAM_SOCKET_COALESCE_MS", problems),
      maxSockets: intVar(env.STREAM_MAX_SOCKETS, 10_000, 1, 32_768, "STREAM_MAX_SOCKETS", problems),
    },
    // Lifetimes and idle expiry: docs/timers-and-batches.md#lifetimes.
    jobMaxLifetimeMs: intVar(env.JOB_MAX_LIFETIME_S, 7 * 86_400, 60, 365 * 86_400, "JOB_MAX_LIFETIME_S", problems) * 1000,
    batchMaxLifetimeMs: intVar(env.BATCH_MAX_LIFETIME_S, 8 * 86_400, 60, 400 * 86_400, "BATCH_MAX_LIFETIME_S", problems) * 1000,
    roomIdleTtlMs: intVar(env.ROOM_IDLE_TTL_S, 90 * 86_400, 60, 365 * 86_400, "ROOM_IDLE_TTL_S", problems) * 1000,
    userIdleTtlMs: intVar(env.USER_IDLE_TTL_S, 90 * 86_400, 60, 365 * 86_400, "USER_IDLE_TTL_S", problems) * 1000,
    webhooks,
    problems,
  };
}

function metricsToken(raw: string | undefined, devMode: boolean, problems: string[]): string | undefined {
  if (!raw) return undefined;
  if (!devMode && (raw.includes(DEV_MARKER) || raw.length < 24))
    problems.push("METRICS_TOKEN is a dev token or shorter than 24 characters");
  return raw;
}
