/**
 * Forward-only schema migrations, one list per component ("hub", "job", ...). Entry i
 * brings the component from version i to i+1. SQL here is synchronous and runs inside
 * one transaction, so a crash mid-migration leaves the previous version intact.
 */
export function migrate(storage: DurableObjectStorage, component: string, steps: readonly string[]): void {
  const sql = storage.sql;
  sql.exec("CREATE TABLE IF NOT EXISTS schema_version (component TEXT PRIMARY KEY, version INTEGER NOT NULL)");
  const row = sql.exec<{ version: number }>("SELECT version FROM schema_version WHERE component = ?", component).toArray()[0];
  const current = row?.version ?? 0;
  if (current >= steps.length) return;
  storage.transactionSync(() => {
    for (let version = current; version < steps.length; version++) sql.exec(steps[version] as string);
    sql.exec(
      "INSERT INTO schema_version (component, version) VALUES (?, ?) ON CONFLICT(component) DO UPDATE SET version = excluded.version",
      component,
      steps.length,
    );
  });
}
