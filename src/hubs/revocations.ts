// A user's deny-list, kept in the user's hub: revoked token ids (`jti`) and, for a ban,
// the user as a whole (`sub`), each until its TTL runs out. Every socket upgrade of the
// user asks the hub anyway (the session registry), so checking here costs no extra call.
import type { Refusal } from "../hub/connections";
import { CloseCode } from "../protocol";

export const REVOCATION_SCHEMA = [
  // kind is "sub" (value "") or "jti" (value the token id).
  "CREATE TABLE revocations (kind TEXT NOT NULL, value TEXT NOT NULL, until INTEGER NOT NULL, PRIMARY KEY (kind, value))",
] as const;

export interface Revocation {
  /** Absent: every token of the user. */
  jti?: string;
  until: number;
}

/** A revoked token gets 4001 (a fresh token works); a revoked user gets 4003 (do not retry). */
export const REVOKED_TOKEN: Refusal = { code: CloseCode.Unauthorized, reason: "token revoked" };
export const REVOKED_USER: Refusal = { code: CloseCode.Forbidden, reason: "user revoked" };

export class Revocations {
  constructor(private readonly sql: SqlStorage) {}

  add(revocation: Revocation, now: number): void {
    this.sql.exec("DELETE FROM revocations WHERE until <= ?", now);
    this.sql.exec(
      "INSERT INTO revocations (kind, value, until) VALUES (?, ?, ?) ON CONFLICT(kind, value) DO UPDATE SET until = MAX(until, excluded.until)",
      revocation.jti === undefined ? "sub" : "jti",
      revocation.jti ?? "",
      revocation.until,
    );
  }

  /** Why a token with this `jti` (if any) may not be used now, or null. */
  refusalFor(jti: string | undefined, now: number): Refusal | null {
    const rows = this.sql
      .exec<{ kind: string }>(
        "SELECT kind FROM revocations WHERE until > ? AND ((kind = 'sub' AND value = '') OR (kind = 'jti' AND value = ?))",
        now,
        jti ?? "",
      )
      .toArray();
    if (rows.some((r) => r.kind === "sub")) return REVOKED_USER;
    if (jti !== undefined && rows.length > 0) return REVOKED_TOKEN;
    return null;
  }

  /** When the last revocation runs out (0: none): the hub must be kept until then. */
  lastUntil(): number {
    return this.sql.exec<{ until: number | null }>("SELECT MAX(until) AS until FROM revocations").one().until ?? 0;
  }
}
