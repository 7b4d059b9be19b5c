import type { Identity } from "../auth/jwt";
import { type ComponentSchema, Hub, type Refusal } from "../hub/hub";

export type UserSnapshot = Record<string, never>;

/**
 * One user: every socket the user has open, on every device. It also redeems the
 * user's one-time socket tickets, since a ticket must be used once across all channels.
 */
export class UserHub extends Hub<UserSnapshot> {
  protected schema(): ComponentSchema {
    return {
      component: "user",
      steps: ["CREATE TABLE used_tickets (jti TEXT PRIMARY KEY, expires_at INTEGER NOT NULL)"],
    };
  }

  /** True the first time a ticket id is presented, false ever after. */
  redeemTicket(jti: string, expiresAt: number): boolean {
    this.sql.exec("DELETE FROM used_tickets WHERE expires_at < ?", this.now());
    const inserted = this.sql.exec("INSERT INTO used_tickets (jti, expires_at) VALUES (?, ?) ON CONFLICT(jti) DO NOTHING", jti, expiresAt);
    return inserted.rowsWritten > 0;
  }

  // The Worker routes a token only to its own user's channel.
  protected admit(_identity: Identity): Refusal | null {
    return null;
  }

  protected snapshot(): UserSnapshot {
    return {};
  }
}
