// Exactly-once sends across reconnects. A client that connects with `?client=<key>` may
// send a frame again after a drop, with the same `ref`, when it never saw the answer: the
// hub answers from memory instead of acting twice (a chat message is posted once). The
// memory is per client key and short: long enough for a client's outbound queue to drain
// after a reconnect.
import type { Attachment } from "./connections";

/** Tables of the "client_refs" component, which every hub has. */
export const CLIENT_REFS_SCHEMA = [
  "CREATE TABLE client_refs (client TEXT NOT NULL, ref TEXT NOT NULL, answer TEXT NOT NULL, at INTEGER NOT NULL, PRIMARY KEY (client, ref))",
  "CREATE INDEX client_refs_by_at ON client_refs (at)",
];

/** How long an answer is kept: the client queue's 60 s age bound, plus reconnect time. */
export const CLIENT_REF_WINDOW_MS = 120_000;
/** Answers kept per client key: more than the client queue's 100. */
export const CLIENT_REFS_PER_CLIENT = 200;

/** What a client may send as `?client=`. */
export const CLIENT_KEY = /^[A-Za-z0-9_-]{8,64}$/;

export class ClientRefs {
  constructor(private readonly sql: SqlStorage) {}

  /** The answer already given to this client's frame with `ref`, if there was one. */
  recall(who: Attachment, ref: string | number | undefined, now: number): string | undefined {
    if (who.client === undefined || ref === undefined) return undefined;
    return this.sql
      .exec<{ answer: string }>(
        "SELECT answer FROM client_refs WHERE client = ? AND ref = ? AND at >= ?",
        who.client,
        String(ref),
        now - CLIENT_REF_WINDOW_MS,
      )
      .toArray()[0]?.answer;
  }

  remember(who: Attachment, ref: string | number | undefined, answer: string, now: number): void {
    if (who.client === undefined || ref === undefined) return;
    this.sql.exec(
      "INSERT INTO client_refs (client, ref, answer, at) VALUES (?, ?, ?, ?) ON CONFLICT(client, ref) DO UPDATE SET answer = excluded.answer, at = excluded.at",
      who.client,
      String(ref),
      answer,
      now,
    );
    this.sql.exec("DELETE FROM client_refs WHERE at < ?", now - CLIENT_REF_WINDOW_MS);
    this.sql.exec(
      "DELETE FROM client_refs WHERE client = ? AND ref IN (SELECT ref FROM client_refs WHERE client = ? ORDER BY at DESC LIMIT -1 OFFSET ?)",
      who.client,
      who.client,
      CLIENT_REFS_PER_CLIENT,
    );
  }
}
