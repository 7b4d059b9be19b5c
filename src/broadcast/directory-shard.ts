import { DurableObject } from "cloudflare:workers";
import { type Outcome, ok, unwrap } from "../errors";
import { migrate } from "../hub/migrations";
import { log } from "../log";
import type { BroadcastInput } from "../schemas";

/** User hubs called at once by one shard. */
const CONCURRENCY = 50;
/** User hubs one run (a request or an alarm) calls at most: well under the per-invocation subrequest limit. */
export const CALLS_PER_RUN = 500;
/** A run that has not finished re-arms its alarm this soon, so a fan-out never waits on the caller. */
const CONTINUE_AFTER_MS = 1;
/** A request waits this long for its share before answering with the progress so far. */
const REQUEST_BUDGET_MS = 15_000;
/** A user hub that fails this many times is given up on (logged), so it cannot hold up the rest. */
const MAX_ATTEMPTS = 5;
/** Same as the hubs' event_id memory: a producer's retry within a week is a repeat. */
const MEMORY_MS = 7 * 24 * 3600 * 1000;

export interface ShardProgress {
  /** Users with an open socket when the broadcast reached this shard. */
  users: number;
  /** Of those, users whose hub had a socket open when it delivered the event. */
  reached: number;
  /** Users not called yet. */
  pending: number;
  duplicate?: true;
}

/**
 * One shard of the directory of users with open user-channel sockets: a user's hub enters
 * it on the user's first socket and leaves on the last (shard by the hash of the user id).
 * A broadcast snapshots this shard's users, then calls their hubs in slices, remembering
 * who is done, so a broadcast interrupted anywhere continues from the alarm and delivers
 * each user's copy once (the hubs also dedupe by event_id).
 */
export class DirectoryShard extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private running: Promise<void> | undefined;
  /** Milliseconds since the epoch. Replaced in tests to move time without sleeping. */
  now: () => number = () => Date.now();
  /** Lowered in tests to make a fan-out take several runs. */
  callsPerRun = CALLS_PER_RUN;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    migrate(ctx.storage, "directory", [
      "CREATE TABLE users (user_id TEXT PRIMARY KEY)",
      "CREATE TABLE broadcasts (event_id TEXT PRIMARY KEY, input TEXT NOT NULL, users INTEGER NOT NULL, reached INTEGER NOT NULL, at INTEGER NOT NULL)",
      "CREATE TABLE targets (event_id TEXT NOT NULL, user_id TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (event_id, user_id))",
    ]);
  }

  enter(userId: string): Outcome<null> {
    this.sql.exec("INSERT INTO users (user_id) VALUES (?) ON CONFLICT DO NOTHING", userId);
    return ok(null);
  }

  leave(userId: string): Outcome<null> {
    this.forget(userId);
    return ok(null);
  }

  private forget(userId: string): void {
    this.sql.exec("DELETE FROM users WHERE user_id = ?", userId);
  }

  /** Starts (or, for a known event_id, reports on) a broadcast to this shard's users. */
  async broadcast(input: BroadcastInput): Promise<Outcome<ShardProgress>> {
    const known = this.read(input.event_id);
    if (known) return ok({ ...known, duplicate: true });
    const now = this.now();
    this.sql.exec("DELETE FROM broadcasts WHERE at < ?", now - MEMORY_MS);
    // One statement, so the snapshot and the record commit together; the alarm is the
    // safety net should this request end before the fan-out does.
    this.sql.exec("INSERT INTO targets (event_id, user_id) SELECT ?, user_id FROM users", input.event_id);
    const users = this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM targets WHERE event_id = ?", input.event_id).one().n;
    this.sql.exec(
      "INSERT INTO broadcasts (event_id, input, users, reached, at) VALUES (?, ?, ?, 0, ?)",
      input.event_id,
      JSON.stringify(input),
      users,
      now,
    );
    // Not awaited: the output gate holds this request's answer until the alarm is stored.
    if (users > 0)
      this.ctx.storage.setAlarm(now + REQUEST_BUDGET_MS).catch((err: unknown) => log("broadcast.alarm_failed", { error: String(err) }));
    const deadline = now + REQUEST_BUDGET_MS;
    while (this.hasPending(input.event_id) && this.now() < deadline) await this.runOnce();
    return ok(this.read(input.event_id) as ShardProgress);
  }

  /** A broadcast's progress on this shard, or null for an event_id it never saw. */
  progress(eventId: string): Outcome<ShardProgress | null> {
    return ok(this.read(eventId));
  }

  private read(eventId: string): ShardProgress | null {
    const row = this.sql
      .exec<{ users: number; reached: number }>("SELECT users, reached FROM broadcasts WHERE event_id = ?", eventId)
      .toArray()[0];
    if (!row) return null;
    const pending = this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM targets WHERE event_id = ?", eventId).one().n;
    return { users: row.users, reached: row.reached, pending };
  }

  override async alarm(): Promise<void> {
    await this.runOnce();
    if (this.sql.exec("SELECT 1 FROM targets LIMIT 1").toArray().length > 0)
      await this.ctx.storage.setAlarm(this.now() + CONTINUE_AFTER_MS);
  }

  private hasPending(eventId: string): boolean {
    return this.sql.exec("SELECT 1 FROM targets WHERE event_id = ? LIMIT 1", eventId).toArray().length > 0;
  }

  /** One slice of at most CALLS_PER_RUN users, oldest broadcast first; one slice at a time. */
  private runOnce(): Promise<void> {
    this.running ??= this.slice().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async slice(): Promise<void> {
    const batch = this.sql
      .exec<{ event_id: string; user_id: string; input: string }>(
        "SELECT t.event_id, t.user_id, b.input FROM targets t JOIN broadcasts b ON b.event_id = t.event_id ORDER BY t.attempts, b.at, t.event_id, t.user_id LIMIT ?",
        this.callsPerRun,
      )
      .toArray();
    for (let i = 0; i < batch.length; i += CONCURRENCY) {
      await Promise.all(batch.slice(i, i + CONCURRENCY).map((target) => this.deliver(target.event_id, target.user_id, target.input)));
    }
  }

  private async deliver(eventId: string, userId: string, input: string): Promise<void> {
    let online: boolean;
    try {
      online = unwrap(await this.env.USER_HUB.getByName(userId).receiveBroadcast(userId, JSON.parse(input) as BroadcastInput)).online;
    } catch (err) {
      // Left in targets: the next slice (or the alarm) tries this user again, a few times.
      log("broadcast.deliver_failed", { event_id: eventId, user: userId, error: String(err) });
      this.sql.exec("UPDATE targets SET attempts = attempts + 1 WHERE event_id = ? AND user_id = ?", eventId, userId);
      this.sql.exec("DELETE FROM targets WHERE event_id = ? AND user_id = ? AND attempts >= ?", eventId, userId, MAX_ATTEMPTS);
      return;
    }
    this.sql.exec("DELETE FROM targets WHERE event_id = ? AND user_id = ?", eventId, userId);
    if (online) this.sql.exec("UPDATE broadcasts SET reached = reached + 1 WHERE event_id = ?", eventId);
    // A user whose hub has no socket left (its last close was missed in a restart) is a ghost.
    else this.forget(userId);
  }
}
