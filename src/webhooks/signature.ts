// Standard Webhooks signatures: HMAC-SHA256 over `${id}.${timestamp}.${body}`, sent as
// `v1,<base64>` in `webhook-signature` (space-separated when several secrets are live).
// The hub signs with it and the producer SDK verifies with it, so it uses only what
// Node 20+, Workers, Bun and browsers all have: WebCrypto, TextEncoder, atob and btoa.

export const SECRET_PREFIX = "whsec_";
/** A webhook whose timestamp is further than this from the receiver's clock is refused (replays). */
export const TIMESTAMP_TOLERANCE_S = 300;
/** Key sizes the Standard Webhooks spec allows, in bytes after base64 decoding. */
const KEY_BYTES = { min: 24, max: 64 };

export type WebhookVerificationCode =
  | "missing_headers"
  | "bad_timestamp"
  | "timestamp_out_of_range"
  | "no_matching_signature"
  | "bad_secret";

/** Thrown by verifyWebhook; switch on `code`, never on the message. */
export class WebhookVerificationError extends Error {
  override readonly name = "WebhookVerificationError";
  constructor(
    readonly code: WebhookVerificationCode,
    message: string,
  ) {
    super(message);
  }
}

/** Header containers as Fetch, Node's http module and plain objects give them. */
export type HeaderSource = Headers | { get(name: string): string | null } | Record<string, string | string[] | undefined>;

/** The key bytes of a `whsec_...` secret; throws on anything the spec does not allow. */
export function decodeSecret(secret: string): Uint8Array {
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  let key: Uint8Array;
  try {
    key = Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0));
  } catch {
    throw new WebhookVerificationError("bad_secret", "a webhook secret is whsec_ followed by base64");
  }
  if (key.length < KEY_BYTES.min || key.length > KEY_BYTES.max) {
    throw new WebhookVerificationError("bad_secret", `a webhook secret's key is ${KEY_BYTES.min} to ${KEY_BYTES.max} bytes`);
  }
  return key;
}

/** A fresh secret in the spec's format (32 random bytes). */
export function generateSecret(): string {
  return SECRET_PREFIX + toBase64(crypto.getRandomValues(new Uint8Array(32)));
}

function hmacKey(secret: string, usage: "sign" | "verify"): Promise<CryptoKey> {
  // decodeSecret's bytes are always a fresh ArrayBuffer; its declared type stays plain for older TypeScript.
  return crypto.subtle.importKey("raw", decodeSecret(secret) as Uint8Array<ArrayBuffer>, { name: "HMAC", hash: "SHA-256" }, false, [usage]);
}

function signedContent(id: string, timestampS: number, body: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(`${id}.${timestampS}.${body}`) as Uint8Array<ArrayBuffer>;
}

/** The `webhook-signature` value: one `v1,<base64>` per secret, so either side of a rotation verifies. */
export async function signWebhook(secrets: readonly string[], id: string, timestampS: number, body: string): Promise<string> {
  const content = signedContent(id, timestampS, body);
  const signatures = await Promise.all(
    secrets.map(
      async (secret) => `v1,${toBase64(new Uint8Array(await crypto.subtle.sign("HMAC", await hmacKey(secret, "sign"), content)))}`,
    ),
  );
  return signatures.join(" ");
}

export interface VerifyOptions {
  /** The receiver's clock in seconds; defaults to now. */
  nowS?: number;
  toleranceS?: number;
}

/**
 * Checks a webhook's headers against the raw body (the exact bytes received, before any
 * JSON parsing) and answers the parsed payload. Any one of `secret` may match, so a
 * receiver keeps working while secrets rotate. The comparison is WebCrypto's HMAC
 * verify, which does not stop at the first differing byte.
 */
export async function verifyWebhook<T = unknown>(
  body: string | Uint8Array,
  headers: HeaderSource,
  secret: string | readonly string[],
  options: VerifyOptions = {},
): Promise<T> {
  const id = header(headers, "webhook-id");
  const timestamp = header(headers, "webhook-timestamp");
  const signatures = header(headers, "webhook-signature");
  if (!id || !timestamp || !signatures) {
    throw new WebhookVerificationError("missing_headers", "webhook-id, webhook-timestamp and webhook-signature are required");
  }
  if (!/^\d{1,12}$/.test(timestamp)) throw new WebhookVerificationError("bad_timestamp", "webhook-timestamp is not a number of seconds");
  const sentAt = Number(timestamp);
  const now = options.nowS ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - sentAt) > (options.toleranceS ?? TIMESTAMP_TOLERANCE_S)) {
    throw new WebhookVerificationError("timestamp_out_of_range", "webhook-timestamp is too far from now");
  }
  const text = typeof body === "string" ? body : new TextDecoder().decode(body);
  const content = signedContent(id, sentAt, text);
  const candidates = signatures
    .split(" ")
    .filter((s) => s.startsWith("v1,"))
    .map((s) => s.slice(3));
  for (const one of typeof secret === "string" ? [secret] : secret) {
    const key = await hmacKey(one, "verify");
    for (const candidate of candidates) {
      const bytes = fromBase64(candidate);
      if (bytes && (await crypto.subtle.verify("HMAC", key, bytes, content))) return JSON.parse(text) as T;
    }
  }
  throw new WebhookVerificationError("no_matching_signature", "no signature matches a configured secret");
}

function header(headers: HeaderSource, name: string): string | undefined {
  if (typeof (headers as Headers).get === "function") return (headers as Headers).get(name) ?? undefined;
  const record = headers as Record<string, string | string[] | undefined>;
  const key = Object.keys(record).find((k) => k.toLowerCase() === name);
  const value = key === undefined ? undefined : record[key];
  return Array.isArray(value) ? value.join(" ") : value;
}

function toBase64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> | null {
  try {
    return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}
