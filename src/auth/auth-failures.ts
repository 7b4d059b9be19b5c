// Failed producer authentication, limited per client address. A wrong key costs the
// guesser a slot in the AUTH_FAILURE_RATE_LIMIT binding; once it refuses, the address is
// refused with 429 before any key is compared, for the rest of the period, so a flood
// learns nothing more. The block is remembered per isolate (the binding cannot be read
// without counting); other isolates block on their next failure from that address.
import { HubError } from "../errors";
import { clientAddressKey } from "./client-address";

/** The binding's period in wrangler.toml ([[ratelimits]] AUTH_FAILURE_RATE_LIMIT). */
export const AUTH_FAILURE_PERIOD_S = 60;
/** Bounds the isolate's memory of blocked addresses under a spread-out flood. */
const MAX_BLOCKED = 10_000;

const blockedUntil = new Map<string, number>();

function refusal(): HubError {
  return new HubError("rate_limited", "too many failed authentication attempts from this address", undefined, AUTH_FAILURE_PERIOD_S);
}

/** Throws 429 when this address is blocked for failed attempts. */
export function refuseIfBlocked(request: Request, now = Date.now()): void {
  const key = clientAddressKey(request);
  const until = blockedUntil.get(key);
  if (until === undefined) return;
  if (until > now) throw refusal();
  blockedUntil.delete(key);
}

/** Counts one failed attempt; throws 429 (and blocks the address) once over the budget. */
export async function noteAuthFailure(env: Env, request: Request, now = Date.now()): Promise<void> {
  const key = clientAddressKey(request);
  const { success } = await env.AUTH_FAILURE_RATE_LIMIT.limit({ key });
  if (success) return;
  if (blockedUntil.size >= MAX_BLOCKED) {
    for (const [address, until] of blockedUntil) if (until <= now) blockedUntil.delete(address);
    if (blockedUntil.size >= MAX_BLOCKED) blockedUntil.delete(blockedUntil.keys().next().value as string);
  }
  blockedUntil.set(key, now + AUTH_FAILURE_PERIOD_S * 1000);
  throw refusal();
}
