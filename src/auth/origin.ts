// Origin allow-list for socket upgrades and CORS (cross-site WebSocket hijacking).

export type OriginRule = { exact: string } | { scheme: string; suffix: string };

export function parseOriginRules(raw: string): { rules: OriginRule[]; problems: string[] } {
  const rules: OriginRule[] = [];
  const problems: string[] = [];
  for (const entry of raw
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)) {
    const wildcard = /^(https?):\/\/\*\.([a-z0-9.-]+(?::\d+)?)$/i.exec(entry);
    if (wildcard?.[1] && wildcard[2]) {
      rules.push({ scheme: wildcard[1].toLowerCase(), suffix: `.${wildcard[2].toLowerCase()}` });
      continue;
    }
    try {
      const url = new URL(entry);
      if (url.origin === "null" || url.origin !== entry.replace(/\/$/, "").toLowerCase()) throw new Error();
      rules.push({ exact: url.origin });
    } catch {
      problems.push(`ALLOWED_ORIGINS: "${entry}" is not an origin or https://*.domain wildcard`);
    }
  }
  return { rules, problems };
}

/** Requests without an Origin (servers, CLIs) pass; a browser's Origin must be listed. */
export function isOriginAllowed(origin: string | null | undefined, rules: readonly OriginRule[]): boolean {
  if (origin === null || origin === undefined) return true;
  // Parsed without throwing: CORS asks with "" for every request that has no Origin, and a
  // thrown TypeError (its stack trace) costs far more than the rest of a request's routing.
  const url = origin === "" ? null : URL.parse(origin);
  if (url === null || url.origin !== origin.toLowerCase()) return false;
  return rules.some((rule) =>
    "exact" in rule
      ? rule.exact === url.origin
      : url.protocol === `${rule.scheme}:` && url.host.endsWith(rule.suffix) && url.host.length > rule.suffix.length,
  );
}
