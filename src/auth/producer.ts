import { HubError } from "../errors";

const digests = new WeakMap<readonly string[], Promise<ArrayBuffer[]>>();

function sha256(text: string): Promise<ArrayBuffer> {
  return crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
}

/**
 * Compares a presented key with every configured key in constant time: both sides are
 * hashed to equal length first, and the loop never stops early, so neither the length
 * nor the position of a match leaks.
 */
export async function isProducerKey(presented: string, keys: readonly string[]): Promise<boolean> {
  let known = digests.get(keys);
  if (!known) {
    known = Promise.all(keys.map(sha256));
    digests.set(keys, known);
  }
  const [candidate, configured] = await Promise.all([sha256(presented), known]);
  let match = false;
  for (const key of configured) {
    if (crypto.subtle.timingSafeEqual(candidate, key)) match = true;
  }
  return match;
}

export function bearerToken(header: string | null | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  return match?.[1];
}

/** Returns the presented key once it is known to be one of ours. */
export async function requireProducer(authorization: string | null | undefined, keys: readonly string[]): Promise<string> {
  const token = bearerToken(authorization);
  if (!token) throw new HubError("unauthorized", "a producer key is required (Authorization: Bearer <key>)");
  if (!(await isProducerKey(token, keys))) throw new HubError("unauthorized", "unknown producer key");
  return token;
}
