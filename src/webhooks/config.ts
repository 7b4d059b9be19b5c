// WEBHOOK_URL, WEBHOOK_SECRET and the emit budget, read like the rest of the config.
import { intVar } from "../env-vars";
import type { FrameRateLimit } from "../hub/frame-rate";
import { decodeSecret } from "./signature";
import { webhookUrlProblem } from "./url";

export interface WebhookConfig {
  /** Where events go unless a room or job names its own `webhook_url`. */
  url?: string;
  /** `whsec_...` secrets; every webhook is signed with each, so receivers can rotate. */
  secrets: string[];
  /** The first retry's delay; the whole retry schedule is a multiple of it. */
  retryBaseMs: number;
  /** Client `emit` frames per socket, a budget of their own next to the frame rate. */
  emitRate: FrameRateLimit;
}

export function parseWebhooks(env: Env, devMode: boolean, problems: string[]): WebhookConfig {
  const url = env.WEBHOOK_URL || undefined;
  const urlProblem = url === undefined ? null : webhookUrlProblem(url, devMode);
  if (urlProblem) problems.push(`WEBHOOK_URL ${urlProblem}`);
  const secrets = (env.WEBHOOK_SECRET ?? "").split(/[\s,]+/).filter(Boolean);
  if (secrets.some((secret) => !isSecret(secret))) problems.push("WEBHOOK_SECRET must be whsec_ secrets of 24-64 base64 bytes");
  if (url !== undefined && secrets.length === 0) problems.push("WEBHOOK_URL needs WEBHOOK_SECRET: webhooks are always signed");
  return {
    ...(url !== undefined && !urlProblem ? { url } : {}),
    secrets,
    retryBaseMs: intVar(env.WEBHOOK_RETRY_BASE_MS, 5_000, 1, 3_600_000, "WEBHOOK_RETRY_BASE_MS", problems),
    emitRate: {
      perSecond: intVar(env.MAX_EMITS_PER_S, 5, 1, 1_000, "MAX_EMITS_PER_S", problems),
      burst: intVar(env.EMIT_BURST, 10, 1, 1_000, "EMIT_BURST", problems),
      // Refused emits are answered with an error; the frame rate's own strikes close floods.
      strikes: Number.POSITIVE_INFINITY,
    },
  };
}

function isSecret(secret: string): boolean {
  try {
    decodeSecret(secret);
    return true;
  } catch {
    return false;
  }
}
