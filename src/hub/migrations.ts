import { OUTBOX_SCHEMA } from "../webhooks/outbox";
import { CLIENT_REFS_SCHEMA } from "./client-refs";
import { COUNTER_SCHEMA } from "./counters";
import { EVENT_ID_SCHEMA } from "./event-ids";
import { EVENT_LOG_SCHEMA } from "./event-log";
import { TIMERS_SCHEMA } from "./timers";

/** One component's migrations: entry i of `steps` brings it from version i to i+1. */
export interface ComponentSchema {
  component: string;
  steps: readonly string[];
}

/**
 * Forward-only schema migrations, one list per component ("hub", "job", ...). Entry i
 * brings the component from version i to i+1. SQL here is synchronous and runs inside
 * one transaction, so a crash mid-migration leaves the previous versions intact.
 * An object runs this on every wake, so an up-to-date one pays two statements.
 */
export function migrateAll(storage: DurableObjectStorage, schemas: readonly ComponentSchema[]): void {
  const sql = storage.sql;
  sql.exec("CREATE TABLE IF NOT EXISTS schema_version (component TEXT PRIMARY KEY, version INTEGER NOT NULL)");
  const versions = new Map(
    sql
      .exec<{ component: string; version: number }>("SELECT component, version FROM schema_version")
      .toArray()
      .map((r) => [r.component, r.version]),
  );
  const behind = schemas.filter(({ component, steps }) => (versions.get(component) ?? 0) < steps.length);
  if (behind.length === 0) return;
  storage.transactionSync(() => {
    for (const { component, steps } of behind) {
      for (let version = versions.get(component) ?? 0; version < steps.length; version++) sql.exec(steps[version] as string);
      sql.exec(
        "INSERT INTO schema_version (component, version) VALUES (?, ?) ON CONFLICT(component) DO UPDATE SET version = excluded.version",
        component,
        steps.length,
      );
    }
  });
}

/** One component's migrations (see migrateAll). */
export function migrate(storage: DurableObjectStorage, component: string, steps: readonly string[]): void {
  migrateAll(storage, [{ component, steps }]);
}

/** The tables of the components every hub has; a subclass adds its own (Hub.schema()). */
const BASE_SCHEMAS: ComponentSchema[] = [
  { component: "hub", steps: EVENT_LOG_SCHEMA },
  { component: "timers", steps: TIMERS_SCHEMA },
  { component: "counters", steps: COUNTER_SCHEMA },
  { component: "event_ids", steps: EVENT_ID_SCHEMA },
  { component: "webhooks", steps: OUTBOX_SCHEMA },
  { component: "client_refs", steps: CLIENT_REFS_SCHEMA },
];

/**
 * A hub's tables, created on its first write rather than when it wakes: a read, a refused
 * socket or a 404 on an id nobody created leaves no object behind (no storage at all).
 * An object that has stored before is brought up to date as soon as it wakes.
 */
export class LazySchema {
  private exists: boolean;

  constructor(
    private readonly storage: DurableObjectStorage,
    private readonly own: () => ComponentSchema,
  ) {
    // Read-only: a lookup in SQLite's own catalogue.
    this.exists = storage.sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'").toArray().length > 0;
    if (this.exists) migrateHub(storage, own());
  }

  get stored(): boolean {
    return this.exists;
  }

  /** Creates the tables if this is the first write; true when it did. */
  ensure(): boolean {
    if (this.exists) return false;
    migrateHub(this.storage, this.own());
    this.exists = true;
    return true;
  }

  /** After storage.deleteAll(): nothing is stored until the next first write. */
  forget(): void {
    this.exists = false;
  }
}

/** Every component of a hub, base first, then the hub's own. */
export function migrateHub(storage: DurableObjectStorage, own: ComponentSchema): void {
  migrateAll(storage, [...BASE_SCHEMAS, own]);
}
