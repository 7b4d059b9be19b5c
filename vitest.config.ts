import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

// Test secrets: production-shaped (DEV_MODE off), never used anywhere else.
export const TEST_BINDINGS = {
  DEV_MODE: "0",
  // The last eight: one per chunk of the batch interleavings, each under its own edge budget.
  PRODUCER_KEYS: [
    "test_producer_key_primary_0123456789",
    "test_producer_key_rotated_0123456789",
    "test_producer_key_limits_01234567890",
    ...Array.from({ length: 8 }, (_, chunk) => `test_producer_key_interleavings_${chunk}_0123`),
  ].join(","),
  JWT_SECRET: "test_jwt_secret_0123456789abcdef0123456789",
  JWT_AUDIENCE: "dovetail-test",
  ALLOWED_ORIGINS: "https://app.example.com,https://*.example.org",
  LOG_RETENTION: "50",
  // Small bounds so tests can reach them.
  INBOX_MAX: "5",
  MAX_SOCKETS_PER_USER: "12",
  MAX_SOCKETS_PER_CHANNEL: "4",
  ROOM_HISTORY: "30",
  RETAINED_MAX: "3",
  RETAINED_MAX_BYTES: "2048",
  CONTACTS_MAX: "5",
  // Lifetimes past the 7-day log age, so the trimming tests see no lifetime run out.
  JOB_MAX_LIFETIME_S: "2592000",
  BATCH_MAX_LIFETIME_S: "2678400",
  // Few shards and a small room threshold, so tests reach them.
  STATS_SHARDS: "4",
  DIRECTORY_SHARDS: "4",
  CHANNEL_SHARD_SOCKETS: "50",
  METRICS_TOKEN: "test_metrics_token_0123456789abcdef",
  // Stream limits small enough to reach (the 1 MiB append still fits, twice).
  STREAM_MAX_BYTES: "2097152",
  STREAM_MAX_LIVE_READERS: "2",
  STREAM_MAX_PRODUCERS: "3",
  STREAM_LONG_POLL_TIMEOUT_MS: "1000",
  // Signed webhooks are possible (no WEBHOOK_URL: only channels given a webhook_url send any).
  WEBHOOK_SECRET: "whsec_dGVzdF93ZWJob29rX3NlY3JldF8wMTIzNDU2Nzg5YWJjZGVm",
};

export default defineConfig({
  test: {
    // Hub logs are JSON lines; show them only for failing tests.
    silent: "passed-only",
    projects: [
      {
        plugins: [
          cloudflareTest({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: { bindings: TEST_BINDINGS },
          }),
        ],
        test: {
          name: "workers",
          include: ["test/workers/**/*.test.ts"],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          environment: "node",
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: "conformance",
          include: ["test/conformance/**/*.test.ts"],
          environment: "node",
          // Alone, after every other project: its TTL and long-poll tests measure time.
          sequence: { groupOrder: 1 },
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
          environment: "node",
          testTimeout: 10_000,
        },
      },
      {
        test: {
          name: "client",
          include: ["test/client/**/*.test.ts"],
          environment: "node",
          testTimeout: 10_000,
        },
      },
      {
        test: {
          name: "react",
          include: ["test/react/**/*.test.ts"],
          environment: "node",
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: "producer",
          include: ["test/producer/**/*.test.ts"],
          environment: "node",
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: "browser",
          include: ["test/browser/**/*.test.ts"],
          globalSetup: ["test/browser/chromium-check.ts"],
          environment: "node",
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
