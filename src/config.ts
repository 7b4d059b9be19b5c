import "./env";
import { type OriginRule, parseOriginRules } from "./auth/origin";
import type { FrameRateLimit } from "./hub/frame-rate";

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
  };
  ticketSecret: string;
  allowedOrigins: OriginRule[];
  heartbeatMs: number;
  maxFrameBytes: number;
  maxBodyBytes: number;
  /** Users and rooms: inbox bounds, tabs per user, room history. */
  inboxMax: number;
  inboxTtlMs: number;
  maxSocketsPerUser: number;
  roomHistory: number;
  roomSnapshotMessages: number;
  /** Retained values per user or room channel, and their total bytes. */
  retainedMax: number;
  retainedMaxBytes: number;
  /** Contacts a producer may set for one user. */
  contactsMax: number;
  /** A user is announced offline only after this long without a socket, so a reload does not flap. */
  offlineDelayMs: number;
  logRetention: number;
  frameRate: FrameRateLimit;
  /** Logged events older than this are trimmed (every hub; rooms and users may shorten it). */
  logMaxAgeMs: number;
  /** A finished job (or batch) is deleted this long after its final state, unless it sets ttl_s. */
  jobTtlMs: number;
  /** A member job reports progress to its batches at most once per this. Final states go at once. */
  batchReportMs: number;
  /** Durable Streams limits (docs/streams.md#limits). */
  streams: StreamLimits;
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
  }

  const origins = parseOriginRules(env.ALLOWED_ORIGINS ?? "");
  problems.push(...origins.problems);

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
    },
    // Tickets live 30 s, so deriving their key from the producer keys is enough; a
    // rotation only invalidates tickets in flight.
    ticketSecret: env.TICKET_SECRET || producerKeys.join(","),
    allowedOrigins: origins.rules,
    heartbeatMs: intVar(env.HEARTBEAT_INTERVAL_S, 30, 1, 3600, "HEARTBEAT_INTERVAL_S", problems) * 1000,
    maxFrameBytes: intVar(env.MAX_FRAME_BYTES, 16_384, 64, 1_048_576, "MAX_FRAME_BYTES", problems),
    maxBodyBytes: intVar(env.MAX_BODY_BYTES, 65_536, 1_024, 1_048_576, "MAX_BODY_BYTES", problems),
    // Defaults and reasons: docs/users-and-rooms.md#limits.
    inboxMax: intVar(env.INBOX_MAX, 200, 1, 10_000, "INBOX_MAX", problems),
    inboxTtlMs: intVar(env.INBOX_TTL_DAYS, 30, 1, 365, "INBOX_TTL_DAYS", problems) * 86_400_000,
    maxSocketsPerUser: intVar(env.MAX_SOCKETS_PER_USER, 10, 1, 1_000, "MAX_SOCKETS_PER_USER", problems),
    roomHistory: intVar(env.ROOM_HISTORY, 1_000, 10, 100_000, "ROOM_HISTORY", problems),
    roomSnapshotMessages: intVar(env.ROOM_SNAPSHOT_MESSAGES, 50, 0, 500, "ROOM_SNAPSHOT_MESSAGES", problems),
    retainedMax: intVar(env.RETAINED_MAX, 100, 1, 10_000, "RETAINED_MAX", problems),
    retainedMaxBytes: intVar(env.RETAINED_MAX_BYTES, 131_072, 1_024, 1_048_576, "RETAINED_MAX_BYTES", problems),
    contactsMax: intVar(env.CONTACTS_MAX, 500, 1, 1_000, "CONTACTS_MAX", problems),
    offlineDelayMs: intVar(env.OFFLINE_DELAY_S, 10, 0, 300, "OFFLINE_DELAY_S", problems) * 1000,
    logRetention: intVar(env.LOG_RETENTION, 1_000, 10, 100_000, "LOG_RETENTION", problems),
    frameRate: {
      perSecond: intVar(env.MAX_FRAMES_PER_S, 20, 1, 10_000, "MAX_FRAMES_PER_S", problems),
      burst: intVar(env.FRAME_BURST, 40, 1, 10_000, "FRAME_BURST", problems),
      strikes: intVar(env.FRAME_RATE_STRIKES, 10, 0, 1_000, "FRAME_RATE_STRIKES", problems),
    },
    logMaxAgeMs: intVar(env.LOG_MAX_AGE_S, 7 * 86_400, 60, 90 * 86_400, "LOG_MAX_AGE_S", problems) * 1000,
    jobTtlMs: intVar(env.JOB_TTL_S, 86_400, 1, 30 * 86_400, "JOB_TTL_S", problems) * 1000,
    batchReportMs: intVar(env.BATCH_REPORT_INTERVAL_MS, 1_000, 50, 60_000, "BATCH_REPORT_INTERVAL_MS", problems),
    streams: {
      // One append is one SQLite row, and a row holds at most 2 MB.
      maxAppendBytes: intVar(env.STREAM_MAX_APPEND_BYTES, 1_048_576, 1_024, 1_048_576, "STREAM_MAX_APPEND_BYTES", problems),
      maxStreamBytes: intVar(env.STREAM_MAX_BYTES, 64 * 1_048_576, 1_048_576, 1_073_741_824, "STREAM_MAX_BYTES", problems),
      longPollTimeoutMs: intVar(env.STREAM_LONG_POLL_TIMEOUT_MS, 20_000, 100, 120_000, "STREAM_LONG_POLL_TIMEOUT_MS", problems),
      sseMaxMs: intVar(env.STREAM_SSE_MAX_S, 60, 1, 3_600, "STREAM_SSE_MAX_S", problems) * 1000,
      maxLiveReaders: intVar(env.STREAM_MAX_LIVE_READERS, 200, 1, 10_000, "STREAM_MAX_LIVE_READERS", problems),
      maxProducers: intVar(env.STREAM_MAX_PRODUCERS, 1_000, 1, 100_000, "STREAM_MAX_PRODUCERS", problems),
      defaultTtlS: intVar(env.STREAM_DEFAULT_TTL_S, 7 * 86_400, 0, 315_360_000, "STREAM_DEFAULT_TTL_S", problems),
    },
    problems,
  };
}

function list(raw: string | undefined): string[] {
  return (raw ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

function intVar(raw: string | undefined, fallback: number, min: number, max: number, name: string, problems: string[]): number {
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    problems.push(`${name} must be an integer from ${min} to ${max}`);
    return fallback;
  }
  return n;
}
