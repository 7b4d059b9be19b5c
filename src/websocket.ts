// Socket helpers shared by the Worker (refusals) and the hubs.
import { CloseCode, SUBPROTOCOL } from "./protocol";

const RESERVED_CLOSE_CODES = new Set([1004, 1005, 1006, 1015]);
const MAX_REASON_BYTES = 123;

/**
 * Closes without ever throwing: reserved or out-of-range codes become 1000 and reasons
 * are cut to the 123 bytes a close frame allows. A hub must always answer a client's
 * close, or the client never receives its close frame.
 */
export function closeQuietly(ws: WebSocket, code: number = CloseCode.Normal, reason = ""): void {
  const safeCode = RESERVED_CLOSE_CODES.has(code) || code < 1000 || code > 4999 || (code > 1015 && code < 3000) ? CloseCode.Normal : code;
  try {
    ws.close(safeCode, truncateUtf8(reason, MAX_REASON_BYTES));
  } catch {
    // Already closed or closing: nothing left to tell the peer.
  }
}

function truncateUtf8(text: string, maxBytes: number): string {
  const bytes = new TextEncoder().encode(text);
  if (bytes.length <= maxBytes) return text;
  return new TextDecoder().decode(bytes.slice(0, maxBytes)).replace(/\uFFFD$/, "");
}

export function offeredSubprotocols(request: Request): string[] {
  return (request.headers.get("Sec-WebSocket-Protocol") ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Response headers for a 101: echo `dovetail.v1` (never the token) when it was offered. */
export function upgradeHeaders(echoSubprotocol: boolean): HeadersInit {
  return echoSubprotocol ? { "Sec-WebSocket-Protocol": SUBPROTOCOL } : {};
}

/**
 * Accepts the upgrade and closes at once with `code`, so a browser can read why (an
 * HTTP error on an upgrade shows it only "1006, connection failed").
 */
export function refuseSocket(code: number, reason: string, echoSubprotocol: boolean): Response {
  const { 0: client, 1: server } = new WebSocketPair();
  server.accept();
  closeQuietly(server, code, reason);
  return new Response(null, { status: 101, webSocket: client, headers: upgradeHeaders(echoSubprotocol) });
}
