/**
 * Structured JSON logs (Workers Logs indexes the fields). Never pass a token or a
 * request header here: callers log ids, codes and reasons only.
 */
export function log(event: string, fields: Record<string, unknown> = {}): void {
  console.log(JSON.stringify({ event, ...fields }));
}
