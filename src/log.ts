/**
 * Structured JSON logs (Workers Logs indexes the fields). Never pass a token or a
 * request header here: callers log ids, codes and reasons only. As a second line of
 * defence every line is scrubbed of `ticket=` query values and JWT-shaped strings, so a
 * URL or a message that carries one cannot leak it. (The platform's own request log is
 * outside the hub's reach and keeps full URLs: see the README on tickets.)
 */
export function log(event: string, fields: Record<string, unknown> = {}): void {
  console.log(redactSecrets(JSON.stringify({ event, ...fields })));
}

const TICKET_PARAM = /([?&]ticket=)[^&\s"#]+/gi;
const JWT_SHAPE = /eyJ[\w-]*\.eyJ[\w-]*\.[\w-]*/g;

export function redactSecrets(text: string): string {
  return text.replace(TICKET_PARAM, "$1[redacted]").replace(JWT_SHAPE, "[redacted-jwt]");
}
