// The client's `emit` frame: an event for the backend, delivered as a `client.event` webhook.
import { HubError } from "../errors";
import { EMIT_DATA_MAX_BYTES, type UserRef, WebhookEvent } from "../protocol";
import { EmitFrame } from "../schemas";
import { parseWith } from "../validation";
import type { ChannelWebhooks } from "./channel-webhooks";

export const EMIT_FRAME = "emit";

/**
 * Validates an emit frame and stores it in the channel's outbox. Answers the webhook id;
 * the caller acks only after this returns, so an acked event is durably queued.
 */
export function queueClientEvent(frame: unknown, from: { user: UserRef; cid: string }, webhooks: ChannelWebhooks): string {
  const { event, data } = parseWith(EmitFrame, frame);
  const bytes = new TextEncoder().encode(JSON.stringify(data ?? null)).length;
  if (bytes > EMIT_DATA_MAX_BYTES) throw new HubError("payload_too_large", `emit data is ${bytes} bytes; at most ${EMIT_DATA_MAX_BYTES}`);
  const result = webhooks.queue(WebhookEvent.ClientEvent, { event, data: data ?? null, user: from.user, connection_id: from.cid });
  if (result.queued) return result.id;
  if (result.reason === "full") throw new HubError("rate_limited", "this channel's webhook queue is full; try again later");
  throw new HubError("misconfigured", "no webhook receiver is configured for this channel");
}
