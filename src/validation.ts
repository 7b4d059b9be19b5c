// The one valibot adapter: a failed parse becomes a HubError("validation_failed") whose
// message names the first problem and whose `issues[]` lists them all (at most 20).
import * as v from "valibot";
import { type ErrorIssue, HubError } from "./errors";

const MAX_ISSUES = 20;

/**
 * Validates `value`; `at` prefixes every path ("data", "type") when the value is one part
 * of something larger, such as one item of a bulk request.
 */
export function parseWith<S extends v.GenericSchema>(schema: S, value: unknown, at?: string): v.InferOutput<S> {
  const result = v.safeParse(schema, value);
  if (result.success) return result.output;
  const issues: ErrorIssue[] = result.issues.slice(0, MAX_ISSUES).map((issue) => {
    const path = [at, v.getDotPath(issue)].filter(Boolean).join(".");
    return path ? { path, message: issue.message } : { message: issue.message };
  });
  const first = issues[0] ?? { message: "invalid value" };
  throw new HubError("validation_failed", first.path ? `${first.path}: ${first.message}` : first.message, issues);
}
