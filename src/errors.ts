import type { ErrorCode } from "./protocol";

const STATUS: Record<ErrorCode, number> = {
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  job_finished: 409,
  stream_closed: 409,
  gone: 410,
  validation_failed: 400,
  payload_too_large: 413,
  unsupported_media_type: 415,
  unsupported_data: 400,
  rate_limited: 429,
  upgrade_required: 426,
  method_not_allowed: 405,
  misconfigured: 503,
  internal: 500,
};

export interface ErrorIssue {
  path?: string;
  message: string;
}

export interface ErrorPayload {
  code: ErrorCode;
  message: string;
  issues?: ErrorIssue[];
}

/** The one error type. Routes throw it; `app.onError` and the hubs turn it into JSON. */
export class HubError extends Error {
  override readonly name = "HubError";
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly issues?: ErrorIssue[],
    readonly retryAfterS?: number,
  ) {
    super(message);
  }

  get status(): number {
    return STATUS[this.code];
  }

  toPayload(): ErrorPayload {
    return this.issues ? { code: this.code, message: this.message, issues: this.issues } : { code: this.code, message: this.message };
  }

  static from(payload: ErrorPayload): HubError {
    return new HubError(payload.code, payload.message, payload.issues);
  }
}

/** The JSON body of every error answer: `{ error: { code, message, issues? } }`. */
export function errorBody(error: HubError | ErrorPayload): { error: ErrorPayload } {
  return { error: error instanceof HubError ? error.toPayload() : error };
}

/** Any thrown value as a HubError; what is not one already is an internal error. */
export function asHubError(err: unknown): HubError {
  return err instanceof HubError ? err : new HubError("internal", "internal error");
}

/**
 * What a hub's RPC method returns. Errors thrown across RPC lose their class, so hubs
 * return failures as data and the worker rethrows them as HubError.
 */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: ErrorPayload };

export function ok<T>(value: T): Outcome<T> {
  return { ok: true, value };
}

export function fail<T = never>(code: ErrorCode, message: string): Outcome<T> {
  return { ok: false, error: { code, message } };
}

export function unwrap<T>(outcome: Outcome<T>): T {
  if (outcome.ok) return outcome.value;
  throw HubError.from(outcome.error);
}
