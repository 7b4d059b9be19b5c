// The per-user session registry, kept in the user's hub: the channels where the user has
// sockets, and how many on each. It is what lets a backend reach every socket of a user
// (disconnect, revocation), caps a user's sockets across all channels and per channel,
// and lists the channels behind GET /v1/users/:id/presence.
//
// Hubs do not report frames, nor every socket: a hub asks on each join (that is the
// admission check, so it must see the new socket) and reports a leave only when the
// user's last socket on that channel goes. A count can therefore run high between a
// non-last leave and the next join there, and a restart drops sockets without any leave
// at all; a join that would be refused is re-counted from the hubs first (UserHub), so a
// stale count costs a few calls and never a wrong refusal.
import type { Refusal } from "../hub/connections";
import { CloseCode } from "../protocol";

export const SESSION_SCHEMA = [
  "CREATE TABLE sessions (channel TEXT PRIMARY KEY, sockets INTEGER NOT NULL, updated_at INTEGER NOT NULL)",
] as const;

export interface SessionLimits {
  /** Sockets across every channel. */
  perUser: number;
  /** Sockets on one channel. */
  perChannel: number;
}

export interface SessionEntry {
  channel: string;
  sockets: number;
}

export class SessionRegistry {
  constructor(
    private readonly sql: SqlStorage,
    private readonly limits: SessionLimits,
  ) {}

  /**
   * A socket asks to join `channel`, where the user would then hold `socketsHere`
   * (the new one included). Null admits and records it; a refusal records nothing.
   */
  enter(channel: string, socketsHere: number, now: number): Refusal | null {
    const refusal = this.check(channel, socketsHere);
    if (refusal) return refusal;
    this.record(channel, socketsHere, now);
    return null;
  }

  /** What `enter` would answer, without recording. */
  check(channel: string, socketsHere: number): Refusal | null {
    const { perUser, perChannel } = this.limits;
    if (socketsHere > perChannel) {
      return { code: CloseCode.TooManyConnections, reason: `at most ${perChannel} connections per user on one channel` };
    }
    if (this.totalExcept(channel) + socketsHere > perUser) {
      return { code: CloseCode.TooManyConnections, reason: `at most ${perUser} connections per user` };
    }
    return null;
  }

  /** The user holds `sockets` on `channel` now (0 forgets the channel). */
  record(channel: string, sockets: number, now: number): void {
    if (sockets <= 0) {
      this.sql.exec("DELETE FROM sessions WHERE channel = ?", channel);
      return;
    }
    this.sql.exec(
      "INSERT INTO sessions (channel, sockets, updated_at) VALUES (?, ?, ?) ON CONFLICT(channel) DO UPDATE SET sockets = excluded.sockets, updated_at = excluded.updated_at",
      channel,
      sockets,
      now,
    );
  }

  entries(): SessionEntry[] {
    return this.sql.exec<{ channel: string; sockets: number }>("SELECT channel, sockets FROM sessions ORDER BY channel").toArray();
  }

  total(): number {
    return this.totalExcept("");
  }

  private totalExcept(channel: string): number {
    return this.sql.exec<{ n: number }>("SELECT COALESCE(SUM(sockets), 0) AS n FROM sessions WHERE channel != ?", channel).one().n;
  }
}
