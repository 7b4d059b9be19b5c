// Where a hub may send webhooks. Deny unless allowed: https only, no credentials in the
// URL, and no loopback, private, link-local or otherwise internal address literal, so a
// producer key cannot turn the hub into a probe of the network it runs in. DEV_MODE=1
// (local development and tests) also allows http and local addresses.
import type { HubConfig } from "../config";
import { HubError } from "../errors";

export const WEBHOOK_URL_MAX_CHARS = 2_048;

/** Null when the URL is acceptable, else why not (for a validation message). */
export function webhookUrlProblem(raw: string, devMode: boolean): string | null {
  if (raw.length > WEBHOOK_URL_MAX_CHARS) return `is longer than ${WEBHOOK_URL_MAX_CHARS} characters`;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return "is not an absolute URL";
  }
  if (url.protocol !== "https:" && !(devMode && url.protocol === "http:")) return "must be an https URL";
  if (url.username || url.password) return "must not carry credentials";
  if (url.hash) return "must not have a #fragment";
  if (!devMode && isInternalHost(url.hostname)) return "must not point at a loopback, private or link-local address";
  return null;
}

/** A producer's `webhook_url` (room or job): a clear 400 unless it may be used here and now. */
export function checkWebhookUrl(url: string | undefined, config: HubConfig): void {
  if (url === undefined) return;
  const problem =
    config.webhooks.secrets.length === 0
      ? "needs WEBHOOK_SECRET set on the hub: webhooks are always signed"
      : webhookUrlProblem(url, config.devMode);
  if (problem) throw new HubError("validation_failed", `webhook_url ${problem}`, [{ path: "webhook_url", message: problem }]);
}

/** Host names and address literals that reach the hub's own machine or network. */
export function isInternalHost(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/\.$/, "");
  if (host === "localhost" || host.endsWith(".localhost") || host.endsWith(".local") || host.endsWith(".internal")) return true;
  if (host.startsWith("[")) return isInternalIPv6(host.slice(1, -1));
  const v4 = parseIPv4(host);
  if (v4) return isInternalIPv4(v4);
  // A name with no dot ("intranet") resolves only on a local network.
  return !host.includes(".");
}

function parseIPv4(host: string): number[] | null {
  // WHATWG URL parsing already turned 0x7f.1, 2130706433 and friends into dotted decimal.
  const parts = host.split(".");
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return null;
  return parts.map(Number);
}

function isInternalIPv4([a, b]: number[]): boolean {
  if (a === undefined || b === undefined) return true;
  return (
    a === 0 || // "this network"
    a === 10 ||
    a === 127 ||
    (a === 100 && b >= 64 && b <= 127) || // carrier-grade NAT
    (a === 169 && b === 254) || // link-local, cloud metadata
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) ||
    (a === 192 && b === 0) || // IETF protocol assignments
    (a === 198 && (b === 18 || b === 19)) || // benchmarking
    a >= 224 // multicast, reserved, broadcast
  );
}

function isInternalIPv6(address: string): boolean {
  if (address === "::" || address === "::1") return true;
  // IPv4-mapped (::ffff:a.b.c.d, which URL writes as ::ffff:xxxx:xxxx) and NAT64 carry an IPv4 inside.
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(address);
  if (mapped) {
    const high = Number.parseInt(mapped[1] as string, 16);
    const low = Number.parseInt(mapped[2] as string, 16);
    return isInternalIPv4([high >> 8, high & 255, low >> 8, low & 255]);
  }
  const first = Number.parseInt(address.split(":")[0] || "0", 16);
  return (
    (first & 0xfe00) === 0xfc00 || // unique local fc00::/7
    (first & 0xffc0) === 0xfe80 || // link-local fe80::/10
    (first & 0xff00) === 0xff00 || // multicast
    address.startsWith("64:ff9b:") // NAT64
  );
}
