// Client frames: the envelope every frame shares, and per-type validation as HubErrors.
import * as v from "valibot";
import { HubError } from "../errors";

/** Every client frame starts like this; hubs validate the rest per type. */
export const ClientEnvelope = v.object({
  type: v.pipe(v.string(), v.maxLength(64)),
  ref: v.optional(v.union([v.pipe(v.string(), v.maxLength(64)), v.number()])),
});
export type ClientEnvelope = v.InferOutput<typeof ClientEnvelope>;

/** Validates a client frame against its schema, as a HubError the client can read. */
export function parseFrame<S extends v.GenericSchema>(schema: S, frame: unknown): v.InferOutput<S> {
  const result = v.safeParse(schema, frame);
  if (!result.success) {
    const issue = result.issues[0];
    const path = issue ? v.getDotPath(issue) : null;
    throw new HubError("validation_failed", path ? `${path}: ${issue?.message}` : (issue?.message ?? "invalid frame"));
  }
  return result.output;
}
