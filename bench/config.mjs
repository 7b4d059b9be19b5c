// Everything the bench may need to tune lives here: scales per mode and the hub's env vars.

/** Secrets only for the bench (production-shaped lengths so DEV_MODE can stay off). */
export const PRODUCER_KEY = "bench_producer_key_0123456789abcdef";
export const JWT_SECRET = "bench_jwt_secret_0123456789abcdef0123456789abcdef";
export const BENCH_USER = "bench";

/**
 * Env vars given to the hub on every path (straight workerd and wrangler dev). When limits
 * land (rate limits, sockets per user, upgrades per IP...), raise them here so the bench
 * measures fan-out, not the limiter; BENCH_HUB_VARS='{"NAME":"value"}' overrides at run time.
 */
export function hubVars() {
  const base = {
    DEV_MODE: "0",
    PRODUCER_KEYS: PRODUCER_KEY,
    JWT_SECRET,
    ALLOWED_ORIGINS: "",
    HEARTBEAT_INTERVAL_S: "30",
    LOG_RETENTION: "5000",
    // Generous limits so 5,000 sockets of one user are allowed (the edge rate limits are
    // raised in bench/servers/hub.mjs, since they are bindings, not vars).
    MAX_SOCKETS_PER_USER: "10000",
    MAX_SOCKETS_PER_CHANNEL: "10000",
    MAX_FRAMES_PER_S: "10000",
    FRAME_BURST: "10000",
    // 50 streams of one bench user: the upgrade and socket limits must not be what is measured.
    STREAM_MAX_LIVE_READERS: "1000",
  };
  const extra = process.env.BENCH_HUB_VARS ? JSON.parse(process.env.BENCH_HUB_VARS) : {};
  return { ...base, ...extra };
}

/**
 * Vars one scenario needs on top of hubVars(): the scale scenario shards its room at
 * `shardSockets`; scale-flat keeps the same room in one object.
 */
export function scenarioVars(scenario, params) {
  if (scenario === "scale") {
    // Few channels at quick scale: fewer stats shards, so each still gets a share worth measuring.
    return {
      CHANNEL_SHARD_SOCKETS: String(params.shardSockets),
      ...(params.statsShards ? { STATS_SHARDS: String(params.statsShards) } : {}),
    };
  }
  if (scenario === "scale-flat") return { CHANNEL_SHARD_SOCKETS: "30000" };
  return {};
}

/**
 * The scale scenario at a fraction of its size (`--scale-size 0.2`): every count of sockets,
 * users, channels and the shard size shrink together, so the room keeps its shape (the same
 * number of shards) and a slow phase shows up in a shorter run.
 */
export function scaleSized(params, size) {
  if (!(size > 0 && size <= 1)) throw new Error(`--scale-size must be in (0, 1], not ${size}`);
  if (size === 1) return params;
  const n = (v) => Math.max(1, Math.round(v * size));
  return {
    ...params,
    shardSockets: n(params.shardSockets),
    roomSockets: n(params.roomSockets),
    roomUsers: n(params.roomUsers),
    jobs: n(params.jobs),
    broadcastUsers: n(params.broadcastUsers),
  };
}

/** ~300-byte producer payload: the publish time and an index, padded. */
export const PAYLOAD_BYTES = 300;

export const SCALES = {
  full: {
    runs: 3,
    s1: { subscribers: 1000, events: 200, concurrency: 1 },
    // Many jobs, each watched by a few sockets, with several producers posting at once.
    s2: { channels: 100, perChannel: 10, events: 2000, concurrency: 8 },
    s3: { channels: 50, perChannel: 100, waitMs: 20_000 },
    s4: { subscribers: 1000, rate: 10, seconds: 10 },
    s5: { subscribers: 500, rate: 20, seconds: 8, dropAtMs: 3000 },
    p0: { events: 500, concurrency: 1 },
    p1: { jobs: 100, updates: 20 },
    proxyS1: { subscribers: 1000, events: 200, concurrency: 1 },
    stream: { streams: 50, rate: 50, seconds: 10, dropAtMs: 5000 },
    // 3,000 sockets on one room sharded at 500, 2,000 on 1,000 jobs, 1,000 user sockets.
    scale: {
      shardSockets: 500,
      roomSockets: 3000,
      roomUsers: 1000,
      roomEvents: 100,
      roomRate: 4,
      jobs: 1000,
      socketsPerJob: 2,
      jobEvents: 2,
      jobRoundsPerS: 0.5,
      broadcastUsers: 1000,
      broadcasts: 3,
      stormEvents: 30,
      stormRate: 3,
      settleMs: 3000,
      // One heartbeat interval with every socket open and nothing published.
      idleMs: 30_000,
      connectConcurrency: 50,
      drainIdleMs: 8000,
    },
    connectConcurrency: 100,
    /** A drain ends when every delivery arrived or none arrived for this long. */
    drainIdleMs: 5000,
  },
  quick: {
    runs: 1,
    s1: { subscribers: 50, events: 20, concurrency: 1 },
    s2: { channels: 5, perChannel: 4, events: 40, concurrency: 2 },
    s3: { channels: 5, perChannel: 20, waitMs: 1000 },
    s4: { subscribers: 50, rate: 10, seconds: 1 },
    s5: { subscribers: 30, rate: 20, seconds: 2, dropAtMs: 700 },
    p0: { events: 20, concurrency: 1 },
    p1: { jobs: 10, updates: 3 },
    proxyS1: { subscribers: 50, events: 20, concurrency: 1 },
    stream: { streams: 3, rate: 20, seconds: 2, dropAtMs: 1000 },
    scale: {
      shardSockets: 25,
      statsShards: 4,
      roomSockets: 120,
      roomUsers: 40,
      roomEvents: 20,
      roomRate: 10,
      jobs: 20,
      socketsPerJob: 2,
      jobEvents: 2,
      jobRoundsPerS: 2,
      broadcastUsers: 30,
      broadcasts: 2,
      stormEvents: 15,
      stormRate: 10,
      settleMs: 500,
      idleMs: 1000,
      connectConcurrency: 25,
      drainIdleMs: 3000,
    },
    connectConcurrency: 50,
    drainIdleMs: 1500,
  },
};

/** Cores: the server (and its children) on one, the load generator on the other. */
export const SERVER_CORE = "0";
export const CLIENT_CORE = "1";
/** Above this client CPU share a run is flagged as client-bound. */
export const CLIENT_BOUND_PCT = 90;
