// The client's `emit` frame: an event for the backend, delivered as a `client.event` webhook.
import * as v from "valibot";
import { HubError } from "../errors";
import { ClientEnvelope, parseFrame } from "../hub/frames";
import { EMIT_DATA_MAX_BYTES, PRODUCT_EVENT_TYPE, type UserRef, WebhookEvent } from "../protocol";
import { Json } from "../schemas";
import type { ChannelWebhooks } from "./channel-webhooks";

export const EMIT_FRAME = "emit";

const EmitFrame = v.strictObject({
  ...ClientEnvelope.entries,
  type: v.literal(EMIT_FRAME),
  event: v.pipe(v.string(), v.regex(PRODUCT_EVENT_TYPE, "event must match ^[a-z][a-z0-9_.:-]{0,63}$")),
  data: v.optional(Json),
});

/**
 * Validates an emit frame and stores it in the channel's outbox. Answers the webhook id;
 * the caller acks only after this returns, so an acked event is durably queued.
 */
export function queueClientEvent(frame: unknown, from: { user: UserRef; cid: string }, webhooks: ChannelWebhooks): string {
  const { event, data } = parseFrame(EmitFrame, frame);
  const bytes = new TextEncoder().encode(JSON.stringify(data ?? null)).length;
  if (bytes > EMIT_DATA_MAX_BYTES) throw new HubError("payload_too_large", `emit data is ${bytes} bytes; at most ${EMIT_DATA_MAX_BYTES}`);
  const result = webhooks.queue(WebhookEvent.ClientEvent, { event, data: data ?? null, user: from.user, connection_id: from.cid });
  if (result.queued) return result.id;
  if (result.reason === "full") throw new HubError("rate_limited", "this channel's webhook queue is full; try again later");
  throw new HubError("misconfigured", "no webhook receiver is configured for this channel");
}
