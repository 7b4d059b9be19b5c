// Edge rate limits on the Workers Rate Limiting binding: counted in the Cloudflare
// location that serves the request, with no Durable Object hop on the hot path. They are
// per location and approximate by design; exact per-socket limits live in the hubs.
import { HubError } from "../errors";
import { clientAddressKey } from "./client-address";

/** Periods are those of the bindings in wrangler.toml ([[ratelimits]] simple.period). */
const PRODUCER_PERIOD_S = 10;
export const UPGRADE_PERIOD_S = 60;

const keyIds = new Map<string, Promise<string>>();

/** A short hash names the key in the limiter: the key itself never leaves this function. */
function keyId(key: string): Promise<string> {
  let id = keyIds.get(key);
  if (!id) {
    id = crypto.subtle
      .digest("SHA-256", new TextEncoder().encode(key))
      .then((d) => [...new Uint8Array(d).slice(0, 8)].map((b) => b.toString(16).padStart(2, "0")).join(""));
    keyIds.set(key, id);
  }
  return id;
}

export async function limitProducer(env: Env, key: string): Promise<void> {
  const { success } = await env.PRODUCER_RATE_LIMIT.limit({ key: await keyId(key) });
  if (!success) throw new HubError("rate_limited", "too many requests for this producer key", undefined, PRODUCER_PERIOD_S);
}

/** Socket upgrades per client address (an IPv6 client by its /64). */
export async function allowUpgrade(env: Env, request: Request): Promise<boolean> {
  const { success } = await env.UPGRADE_RATE_LIMIT.limit({ key: clientAddressKey(request) });
  return success;
}
