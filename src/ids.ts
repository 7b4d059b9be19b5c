import { HubError } from "./errors";

/** Channel ids: 1-128 chars of [A-Za-z0-9_.:-] (docs/protocol.md). Checked before any object is touched. */
export const ID_PATTERN = /^[A-Za-z0-9_.:-]{1,128}$/;

export function isValidId(raw: unknown): raw is string {
  // "." and ".." match the character set but read as path segments; refuse them outright.
  return typeof raw === "string" && ID_PATTERN.test(raw) && raw !== "." && raw !== "..";
}

export function parseId(raw: string | undefined, what = "id"): string {
  if (!isValidId(raw)) {
    throw new HubError("validation_failed", `${what} must be 1-128 characters of A-Z a-z 0-9 _ . : -`, [
      { path: what, message: "invalid id" },
    ]);
  }
  return raw;
}

export function newId(): string {
  return crypto.randomUUID();
}
