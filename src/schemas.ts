// valibot schemas for every producer HTTP body and every client frame. Objects are
// strict: an unknown key is a typo to report, not a field to drop silently. They are
// applied through one adapter, parseWith() in validation.ts.
import * as v from "valibot";
import { isValidId } from "./ids";
import {
  isReservedEventType,
  JOB_STATUSES,
  JOB_UPDATES_MAX_ITEMS,
  type Json as JsonValue,
  MESSAGE_MAX_CHARS,
  PRODUCT_EVENT_TYPE,
  PUBLISH_MAX_ITEMS,
} from "./protocol";
import { MEDIA_TYPE } from "./streams/headers";
import { WEBHOOK_URL_MAX_CHARS } from "./webhooks/url";

export const Id = v.pipe(
  v.string(),
  v.check((s: string) => isValidId(s), "must be 1-128 characters of A-Z a-z 0-9 _ . : -"),
);
const Text = (max: number) => v.pipe(v.string(), v.maxLength(max));
const WebhookUrl = v.pipe(v.string(), v.maxLength(WEBHOOK_URL_MAX_CHARS));
/** Deeper producer JSON is refused: nothing real needs it, and deep values cost stack later. */
export const MAX_JSON_DEPTH = 32;

/** Depth of a parsed JSON value, walked without recursion so hostile input cannot overflow. */
export function jsonDepth(value: unknown): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [item, depth] = stack.pop() as [unknown, number];
    if (item === null || typeof item !== "object") continue;
    deepest = Math.max(deepest, depth);
    if (deepest > MAX_JSON_DEPTH) return deepest;
    for (const child of Object.values(item)) stack.push([child, depth + 1]);
  }
  return deepest;
}

// JSON.parse only ever yields JSON values, so a depth check is all a JSON field needs.
export const Json = v.custom<JsonValue>((value) => jsonDepth(value) <= MAX_JSON_DEPTH, `nested deeper than ${MAX_JSON_DEPTH} levels`);
const Metadata = v.pipe(
  v.record(v.string(), Json),
  v.check((m) => Object.keys(m).length <= 64, "at most 64 keys"),
);

/** A job's output stream (jobs/<id>/output), with the media type its producer appends. */
const JobOutputSpec = v.strictObject({
  content_type: v.optional(v.pipe(v.string(), v.maxLength(256), v.regex(MEDIA_TYPE, "must be a media type such as text/plain"))),
});

const Stage = v.strictObject({
  name: Text(200),
  progress: v.pipe(v.number(), v.minValue(0), v.maxValue(100)),
  duration_ms: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(86_400_000)),
});

export const JobSpec = v.strictObject({
  id: v.optional(Id),
  owner: Id,
  viewers: v.optional(v.pipe(v.array(Id), v.maxLength(100))),
  title: v.optional(Text(200)),
  /** A progress plan the hub plays from its alarm once the job is running. */
  stages: v.optional(
    v.pipe(
      v.array(Stage),
      v.minLength(1),
      v.maxLength(50),
      v.check((s) => s.every((stage, i) => i === 0 || stage.progress >= (s[i - 1]?.progress ?? 0)), "stage progress must not decrease"),
    ),
  ),
  /** Fail the job as "stalled" after this long without a producer event while running. */
  stall_timeout_s: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(7 * 86_400))),
  /** Delete the job this long after its final state (default JOB_TTL_S). */
  ttl_s: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(30 * 86_400))),
  metadata: v.optional(Metadata),
  /** This job's webhooks go here instead of WEBHOOK_URL (checked by checkWebhookUrl). */
  webhook_url: v.optional(WebhookUrl),
  output: v.optional(JobOutputSpec),
});
export type JobSpec = v.InferOutput<typeof JobSpec>;

const JobUpdateFields = {
  event_id: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(128))),
  status: v.optional(v.picklist(JOB_STATUSES)),
  progress: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(100))),
  stage: v.optional(Text(200)),
  message: v.optional(Text(2000)),
  eta_ms: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
  result: v.optional(Json),
  error: v.optional(v.strictObject({ code: Text(64), message: Text(2000) })),
  data: v.optional(Json),
};
/** An update says something: a field besides the ones that only name or dedupe it. */
const saysSomething = (update: object) => Object.keys(update).some((k) => k !== "event_id" && k !== "job");
const SAYS_NOTHING = "an update needs at least one field besides event_id";

export const JobUpdate = v.pipe(
  v.strictObject(JobUpdateFields),
  v.check((u) => saysSomething(u), SAYS_NOTHING),
);
export type JobUpdate = v.InferOutput<typeof JobUpdate>;

/** One item of POST /v1/jobs/events: the job it is for, and the same fields as a single update. */
export const JobUpdateItem = v.pipe(
  v.strictObject({ job: Id, ...JobUpdateFields }),
  v.check((u) => saysSomething(u), SAYS_NOTHING),
);
export type JobUpdateItem = v.InferOutput<typeof JobUpdateItem>;

export const JobUpdateBatch = v.pipe(
  v.array(v.unknown()),
  v.minLength(1, "send at least one item"),
  v.maxLength(JOB_UPDATES_MAX_ITEMS, `at most ${JOB_UPDATES_MAX_ITEMS} items`),
);

export const BatchSpec = v.strictObject({
  id: v.optional(Id),
  owner: Id,
  viewers: v.optional(v.pipe(v.array(Id), v.maxLength(100))),
  jobs: v.pipe(
    v.array(Id),
    v.minLength(1),
    v.maxLength(1000),
    v.check((jobs) => new Set(jobs).size === jobs.length, "job ids must be unique"),
  ),
});
export type BatchSpec = v.InferOutput<typeof BatchSpec>;

// --- users and rooms ---

export const ProductEventType = v.pipe(
  v.string(),
  v.regex(PRODUCT_EVENT_TYPE, "must match ^[a-z][a-z0-9_.:-]{0,63}$"),
  v.check((t: string) => !isReservedEventType(t), "is reserved for the hub's own events"),
);
const EventId = v.pipe(v.string(), v.minLength(1), v.maxLength(128));

export const NotificationInput = v.strictObject({
  id: v.optional(Id),
  kind: v.pipe(v.string(), v.minLength(1), v.maxLength(64)),
  title: v.optional(Text(200)),
  body: v.optional(Text(2000)),
  data: v.optional(Json),
});
export type NotificationInput = v.InferOutput<typeof NotificationInput>;

/** `retain: true` keeps the latest value per type in the snapshot; `retain_key` one per key. */
const Retain = {
  retain: v.optional(v.boolean()),
  retain_key: v.optional(Id),
};
function retainConsistent<T extends { retain?: boolean; retain_key?: string }>() {
  return v.check<T, string>(
    (e) => !(e.retain === false && e.retain_key !== undefined),
    "retain_key retains the event: leave retain out or set it to true",
  );
}

const productEventEntries = { type: ProductEventType, data: v.optional(Json), event_id: v.optional(EventId), ...Retain };

/** POST /v1/users/:id/notifications/read: some ids, or every notification. */
export const MarkRead = v.union([
  v.strictObject({ ids: v.pipe(v.array(Id), v.minLength(1), v.maxLength(100)) }),
  v.strictObject({ all: v.literal(true) }),
]);
export type MarkRead = v.InferOutput<typeof MarkRead>;

/** PUT /v1/users/:id/contacts: whose online status the user sees (CONTACTS_MAX bounds it further). */
export const ContactList = v.strictObject({
  contacts: v.pipe(
    v.array(Id),
    v.maxLength(1_000),
    v.check((ids) => new Set(ids).size === ids.length, "contacts must be unique"),
  ),
});

/** POST /v1/users/:id/events: any event type a product defines. */
export const ProductEvent = v.pipe(v.strictObject(productEventEntries), retainConsistent());
export type ProductEvent = v.InferOutput<typeof ProductEvent>;

/** POST /v1/rooms/:id/events: the same, and `exclude_user` (usually the actor) gets no live copy. */
export const RoomProductEvent = v.pipe(v.strictObject({ ...productEventEntries, exclude_user: v.optional(Id) }), retainConsistent());
export type RoomProductEvent = v.InferOutput<typeof RoomProductEvent>;

/** POST /v1/broadcast: to every user with an open socket; `notify` also keeps it in their inboxes. */
export const BroadcastInput = v.pipe(
  v.strictObject({
    type: ProductEventType,
    data: v.optional(Json),
    /** Required: it makes the fan-out safe to retry, and with `notify` it is the notification's id. */
    event_id: Id,
    notify: v.optional(v.boolean()),
    title: v.optional(Text(200)),
    body: v.optional(Text(2000)),
  }),
  v.check((b) => b.notify === true || (b.title === undefined && b.body === undefined), "title and body need notify: true"),
);
export type BroadcastInput = v.InferOutput<typeof BroadcastInput>;

export const RoomSettings = v.strictObject({
  visibility: v.picklist(["private", "public"]),
  members: v.optional(v.pipe(v.array(Id), v.maxLength(1_000))),
  /** This room's webhooks go here instead of WEBHOOK_URL; absent means WEBHOOK_URL. */
  webhook_url: v.optional(WebhookUrl),
});
export type RoomSettings = v.InferOutput<typeof RoomSettings>;

/** One item of POST /v1/publish; `type: "notification"` on a user channel stores it in the inbox. */
export const PublishItem = v.pipe(
  v.strictObject({
    channel: v.pipe(v.string(), v.maxLength(140)),
    type: v.pipe(v.string(), v.maxLength(64)),
    data: v.optional(Json),
    event_id: v.optional(EventId),
    ...Retain,
  }),
  retainConsistent(),
);
export type PublishItem = v.InferOutput<typeof PublishItem>;

export const PublishBatch = v.pipe(
  v.array(v.unknown()),
  v.minLength(1, "send at least one item"),
  v.maxLength(PUBLISH_MAX_ITEMS, `at most ${PUBLISH_MAX_ITEMS} items`),
);

// --- session control ---

/** The longest a revocation may be kept: beyond any token lifetime JWT_MAX_TTL_S allows. */
export const REVOCATION_MAX_TTL_S = 30 * 86_400;

/** POST /v1/revocations: a token (`sub` + `jti`) or a whole user (`sub` alone), for `ttl_s`. */
export const RevocationBody = v.strictObject({
  sub: Id,
  jti: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(256))),
  ttl_s: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(REVOCATION_MAX_TTL_S))),
});
export type RevocationBody = v.InferOutput<typeof RevocationBody>;

// --- client frames ---

/** A client's correlation id, echoed on the `ack` or `error` that answers the frame. */
export const Ref = v.optional(v.union([v.pipe(v.string(), v.maxLength(64)), v.number()]));

/** Every client frame starts like this; each hub validates the rest with its own frame schemas. */
export const ClientEnvelope = v.object({ type: v.pipe(v.string(), v.maxLength(64)), ref: Ref });
export type ClientEnvelope = v.InferOutput<typeof ClientEnvelope>;

/** Every channel: the socket's token replaced in place, before it expires. */
export const AuthFrame = v.strictObject({ type: v.literal("auth"), token: v.pipe(v.string(), v.maxLength(8_192)), ref: Ref });

/** Job channel: the owner asks the producer to stop. */
export const CancelFrame = v.strictObject({ type: v.literal("cancel"), ref: Ref });

/** User channel: mark notifications read. */
export const AckFrame = v.strictObject({
  type: v.literal("ack"),
  ids: v.pipe(v.array(Id), v.minLength(1), v.maxLength(100)),
  ref: Ref,
});

/** Room channel: a chat message; the hub stamps who sent it and when. */
export const MessageFrame = v.strictObject({
  type: v.literal("message"),
  text: v.pipe(
    v.string(),
    v.minLength(1, "text must not be empty"),
    v.maxLength(MESSAGE_MAX_CHARS, `text is longer than ${MESSAGE_MAX_CHARS} characters`),
  ),
  data: v.optional(Json),
  ref: Ref,
});
export type MessageFrame = v.InferOutput<typeof MessageFrame>;

/** Room channel: typing on or off (ephemeral). */
export const TypingFrame = v.strictObject({ type: v.literal("typing"), typing: v.boolean(), ref: Ref });

/** Any channel: an event for the backend, delivered as a `client.event` webhook. */
export const EmitFrame = v.strictObject({
  type: v.literal("emit"),
  event: v.pipe(v.string(), v.regex(PRODUCT_EVENT_TYPE, "event must match ^[a-z][a-z0-9_.:-]{0,63}$")),
  data: v.optional(Json),
  ref: Ref,
});
export type TypingFrame = v.InferOutput<typeof TypingFrame>;

/** User channel: mark every notification read. */
export const ReadAllFrame = v.strictObject({ type: v.literal("read_all"), ref: Ref });

/** Room channel: the user has read up to this seq (a read receipt). */
export const ReadFrame = v.strictObject({ type: v.literal("read"), up_to: v.pipe(v.number(), v.integer(), v.minValue(0)), ref: Ref });
export type ReadFrame = v.InferOutput<typeof ReadFrame>;
