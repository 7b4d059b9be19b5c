// valibot schemas for every producer and client HTTP body. Objects are strict: an
// unknown key is a typo to report, not a field to drop silently.
import * as v from "valibot";
import { isValidId } from "./ids";
import { JOB_STATUSES, type Json as JsonValue } from "./protocol";

export const Id = v.pipe(
  v.string(),
  v.check((s: string) => isValidId(s), "must be 1-128 characters of A-Z a-z 0-9 _ . : -"),
);
const Text = (max: number) => v.pipe(v.string(), v.maxLength(max));
// JSON.parse only ever yields JSON values, so `unknown` here is JSON by construction.
const Json = v.custom<JsonValue>(() => true);
const Metadata = v.pipe(
  v.record(v.string(), Json),
  v.check((m) => Object.keys(m).length <= 64, "at most 64 keys"),
);

export const JobSpec = v.strictObject({
  id: v.optional(Id),
  owner: Id,
  viewers: v.optional(v.pipe(v.array(Id), v.maxLength(100))),
  title: v.optional(Text(200)),
  metadata: v.optional(Metadata),
});
export type JobSpec = v.InferOutput<typeof JobSpec>;

export const JobUpdate = v.pipe(
  v.strictObject({
    event_id: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(128))),
    status: v.optional(v.picklist(JOB_STATUSES)),
    progress: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(100))),
    stage: v.optional(Text(200)),
    message: v.optional(Text(2000)),
    eta_ms: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
    result: v.optional(Json),
    error: v.optional(v.strictObject({ code: Text(64), message: Text(2000) })),
    data: v.optional(Json),
  }),
  v.check((u) => Object.keys(u).some((k) => k !== "event_id"), "an update needs at least one field besides event_id"),
);
export type JobUpdate = v.InferOutput<typeof JobUpdate>;
