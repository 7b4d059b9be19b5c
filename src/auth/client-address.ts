// The key the edge limiters count a client under. An IPv4 address is one client; an IPv6
// client usually holds a whole /64 (one per home or per cloud VM), so counting full IPv6
// addresses would let anyone rotate through 2^64 fresh budgets.

/** CF-Connecting-IP as a limiter key: IPv4 as is, IPv6 as its /64 prefix ("2001:db8:0:1::/64"). */
export function clientAddressKey(request: Request): string {
  const raw = request.headers.get("CF-Connecting-IP");
  // Absent only off Cloudflare (local tools): those share one budget.
  if (!raw) return "unknown";
  return addressKey(raw.trim());
}

export function addressKey(address: string): string {
  if (!address.includes(":")) return address;
  const groups = expandIpv6(address);
  if (!groups) return address.toLowerCase();
  // IPv4-mapped (::ffff:a.b.c.d) is an IPv4 client.
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    const [hi = 0, lo = 0] = groups.slice(6);
    return [hi >> 8, hi & 0xff, lo >> 8, lo & 0xff].join(".");
  }
  return `${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(":")}::/64`;
}

/** Eight 16-bit groups, or null when the text is not an IPv6 address. */
function expandIpv6(text: string): number[] | null {
  let address = text.replace(/%.*$/, "").toLowerCase();
  // A trailing dotted IPv4 part is two groups.
  const v4 = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(address);
  if (v4) {
    const bytes = v4.slice(1).map(Number);
    if (bytes.some((b) => b > 255)) return null;
    const [a = 0, b = 0, c = 0, d = 0] = bytes;
    address = `${address.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = address.split("::");
  if (halves.length > 2) return null;
  const parse = (part: string) => (part === "" ? [] : part.split(":"));
  const head = parse(halves[0] ?? "");
  const tail = halves.length === 2 ? parse(halves[1] ?? "") : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...tail];
  if (!groups.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return null;
  return groups.map((g) => Number.parseInt(g, 16));
}
