// Server-Sent Events framing for live=sse (protocol section 5.7). Text and JSON streams
// send their data as text, one `data:` line per line of the payload, so an embedded
// blank line or "event:" can never end the event or forge another; every other type is
// base64 (announced by Stream-SSE-Data-Encoding), which has no line breaks at all.
import { mediaType } from "./headers";

export type SseEncoding = "text" | "base64";

export function sseEncodingFor(contentType: string): SseEncoding {
  const type = mediaType(contentType);
  return type.startsWith("text/") || type === "application/json" ? "text" : "base64";
}

export interface ControlFields {
  streamNextOffset: string;
  /** Omitted on the final event of a closed stream: there is nothing more to collapse on. */
  streamCursor?: string;
  upToDate?: true;
  streamClosed?: true;
}

export function dataEvent(payload: Uint8Array, encoding: SseEncoding): string {
  if (encoding === "base64") return `event: data\ndata:${toBase64(payload)}\n\n`;
  const lines = new TextDecoder().decode(payload).split(/\r\n|\r|\n/);
  return `event: data\n${lines.map((line) => `data:${line}`).join("\n")}\n\n`;
}

export function controlEvent(fields: ControlFields): string {
  return `event: control\ndata:${JSON.stringify(fields)}\n\n`;
}

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  // In slices: String.fromCharCode takes its bytes as arguments, and arguments are bounded.
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}
