// A user's side of "who is online": whom the user watches (contacts a producer set, plus
// the `watch` claim of the user's tokens), who watches the user right now, and whether
// the user is announced online. Storage only; WhoIsOnline decides and sends.

/** Steps of the user component. */
export const CONTACTS_SCHEMA = [
  // Set by PUT /v1/users/:id/contacts, replaced whole each time.
  "CREATE TABLE contacts (user_id TEXT PRIMARY KEY)",
  // From the `watch` claim of this user's sockets; forgotten when the user goes offline.
  "CREATE TABLE claimed_contacts (user_id TEXT PRIMARY KEY)",
  // Online users who watch this one, registered while they are online.
  "CREATE TABLE watchers (user_id TEXT PRIMARY KEY, at INTEGER NOT NULL)",
  "CREATE INDEX watchers_by_at ON watchers (at)",
  // What contacts were last told: online or not, since when, and the name to show.
  "CREATE TABLE online_state (singleton INTEGER PRIMARY KEY CHECK (singleton = 1), online INTEGER NOT NULL, last_seen INTEGER, name TEXT)",
];

/** Watchers one user keeps; past this the oldest registration goes (that watcher can still ask GET /v1/presence). */
export const WATCHERS_MAX = 5_000;

export interface OnlineState {
  online: boolean;
  /** When the user's last socket closed, while offline; null if never seen. */
  lastSeen: number | null;
  name: string | null;
}

export class Contacts {
  constructor(private readonly sql: SqlStorage) {}

  /** Everyone this user watches: the producer's list and the tokens' claims. */
  watched(): string[] {
    return this.sql
      .exec<{ user_id: string }>("SELECT user_id FROM contacts UNION SELECT user_id FROM claimed_contacts ORDER BY user_id")
      .toArray()
      .map((row) => row.user_id);
  }

  /** The producer's list, sorted. */
  listed(): string[] {
    return this.sql
      .exec<{ user_id: string }>("SELECT user_id FROM contacts ORDER BY user_id")
      .toArray()
      .map((row) => row.user_id);
  }

  /** The ids of `ids` this user does not watch. */
  unwatched(ids: string[]): string[] {
    const watched = new Set(this.watched());
    return ids.filter((id) => !watched.has(id));
  }

  /** Replaces the producer's list; answers who started and who stopped being watched. */
  replace(ids: string[]): { added: string[]; removed: string[] } {
    const before = new Set(this.watched());
    this.sql.exec("DELETE FROM contacts");
    for (const id of new Set(ids)) this.sql.exec("INSERT INTO contacts (user_id) VALUES (?)", id);
    return this.diff(before);
  }

  /** Adds a token's `watch` claim; answers who is newly watched. */
  claim(ids: string[]): string[] {
    if (ids.length === 0) return [];
    const before = new Set(this.watched());
    for (const id of ids) this.sql.exec("INSERT INTO claimed_contacts (user_id) VALUES (?) ON CONFLICT DO NOTHING", id);
    return this.diff(before).added;
  }

  forgetClaims(): void {
    this.sql.exec("DELETE FROM claimed_contacts");
  }

  addWatcher(id: string, now: number): void {
    this.sql.exec("INSERT INTO watchers (user_id, at) VALUES (?, ?) ON CONFLICT(user_id) DO UPDATE SET at = excluded.at", id, now);
    this.sql.exec("DELETE FROM watchers WHERE user_id IN (SELECT user_id FROM watchers ORDER BY at DESC LIMIT -1 OFFSET ?)", WATCHERS_MAX);
  }

  removeWatcher(id: string): void {
    this.sql.exec("DELETE FROM watchers WHERE user_id = ?", id);
  }

  newestWatcherAt(): number | null {
    return this.sql.exec<{ at: number | null }>("SELECT MAX(at) AS at FROM watchers").one().at;
  }

  watchers(): string[] {
    return this.sql
      .exec<{ user_id: string }>("SELECT user_id FROM watchers ORDER BY at")
      .toArray()
      .map((row) => row.user_id);
  }

  state(): OnlineState {
    const row = this.sql
      .exec<{ online: number; last_seen: number | null; name: string | null }>("SELECT online, last_seen, name FROM online_state")
      .toArray()[0];
    return row ? { online: row.online === 1, lastSeen: row.last_seen, name: row.name } : { online: false, lastSeen: null, name: null };
  }

  setState(state: OnlineState): void {
    this.sql.exec(
      "INSERT INTO online_state (singleton, online, last_seen, name) VALUES (1, ?, ?, ?) ON CONFLICT(singleton) DO UPDATE SET online = excluded.online, last_seen = excluded.last_seen, name = excluded.name",
      state.online ? 1 : 0,
      state.lastSeen,
      state.name,
    );
  }

  private diff(before: Set<string>): { added: string[]; removed: string[] } {
    const after = new Set(this.watched());
    return { added: [...after].filter((id) => !before.has(id)), removed: [...before].filter((id) => !after.has(id)) };
  }
}
