// Client-frame intake: what a hub does with one incoming WebSocket message, decided
// without touching the socket. The hub applies the verdict; tests call this directly.
import * as v from "valibot";
import { HubError } from "../errors";
import { CloseCode } from "../protocol";
import { ClientEnvelope } from "../schemas";
import type { FrameVerdict } from "./frame-rate";

export interface IntakeLimits {
  maxFrameBytes: number;
  /** Only named in the rate-limit error message. */
  perSecond: number;
}

/** A parsed client frame: the envelope's fields plus whatever the frame type carries. */
export type ClientFrame = ClientEnvelope & Record<string, unknown>;

export type Intake =
  /** Close the socket with this code. */
  | { action: "close"; code: number; reason: string }
  /** Answer with an `error` frame (no ref: the frame was not read far enough to have one). */
  | { action: "refuse"; error: HubError }
  /** A client ping that came as a frame rather than the exact auto-answered text. */
  | { action: "pong" }
  /** A well-formed frame for the hub's own handler. */
  | { action: "handle"; frame: ClientFrame };

/**
 * The checks, in an order that lets nothing large be worked on: size first, for text and
 * binary alike (a frame may be up to 32 MiB; a binary one is never read at all), then
 * binary (1003: the hub speaks JSON text), the socket's rate verdict, JSON, and the
 * envelope every frame shares.
 */
export function readClientFrame(message: string | ArrayBuffer, rate: FrameVerdict, limits: IntakeLimits): Intake {
  if (frameBytesOver(message, limits.maxFrameBytes)) {
    return { action: "close", code: CloseCode.TooBig, reason: `frame larger than ${limits.maxFrameBytes} bytes` };
  }
  if (typeof message !== "string") {
    return { action: "close", code: CloseCode.UnsupportedData, reason: "binary frames are not accepted; send JSON text" };
  }
  if (rate === "close") return { action: "close", code: CloseCode.RateLimited, reason: "too many frames" };
  if (rate === "refuse") return refuse("rate_limited", `more than ${limits.perSecond} frames per second`);
  let frame: unknown;
  try {
    frame = JSON.parse(message);
  } catch {
    return refuse("validation_failed", "frame is not valid JSON");
  }
  if (!v.is(ClientEnvelope, frame)) return refuse("validation_failed", 'a frame is a JSON object with a string "type"');
  if (frame.type === "ping") return { action: "pong" };
  return { action: "handle", frame: frame as ClientFrame };
}

function frameBytesOver(message: string | ArrayBuffer, max: number): boolean {
  if (typeof message !== "string") return message.byteLength > max;
  // length counts UTF-16 units, at most 3 UTF-8 bytes each: encode only when it may matter.
  return message.length > max || (message.length * 3 > max && new TextEncoder().encode(message).length > max);
}

function refuse(code: "rate_limited" | "validation_failed", message: string): Intake {
  return { action: "refuse", error: new HubError(code, message) };
}
