// Close codes come from the shared protocol module (a plain `as const` object with no
// imports), so the browser bundle carries the numbers without duplicating them.
import { CloseCode } from "../../../src/protocol/index.js";

export { CloseCode };

/** What a channel does after its socket closes with a given code (centrifuge-js style table). */
export type CloseAction = "refresh_token" | "stop" | "back_off" | "retry";

export function closeAction(code: number): CloseAction {
  switch (code) {
    case CloseCode.Unauthorized:
      return "refresh_token";
    case CloseCode.Forbidden:
    case CloseCode.NotFound:
    case CloseCode.Policy:
    case CloseCode.UnsupportedData:
      return "stop";
    case CloseCode.RateLimited:
    case CloseCode.TooManyConnections:
      return "back_off";
    default:
      // 1000/1001 (deploys restart every object), 1006 (network), 1011, 1009: resume.
      return "retry";
  }
}

/** The error code a channel's waiting sends fail with when the hub closes it for good. */
export function stopErrorCode(code: number): string {
  switch (code) {
    case CloseCode.Forbidden:
      return "forbidden";
    case CloseCode.NotFound:
      return "not_found";
    case CloseCode.Policy:
      return "policy";
    case CloseCode.Unauthorized:
      return "unauthorized";
    default:
      return "closed";
  }
}

/** A stable, switchable error: `code` is a server error code or one of the client's own. */
export class DovetailError extends Error {
  override readonly name = "DovetailError";
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}
