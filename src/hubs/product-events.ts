// Product events (`like:updated`, `campaign:launched`) on user and room channels: any type
// a product defines, deduplicated by the producer's optional event_id, optionally retained.
import { fail, type Outcome, ok } from "../errors";
import type { EventIdMemory } from "../hub/event-ids";
import type { LoggedEvent } from "../hub/event-log";
import { publishRetained, type RetainedValues } from "../hub/retained";
import type { ProductEvent } from "../schemas";

/** What a producer hears back: the event's seq, and `duplicate` when the event_id was seen. */
export interface Delivered {
  seq: number;
  duplicate?: true;
}

/** The user and room hubs' first dedupe table, superseded by event_ids (see EventIdMemory). */
export const PUBLISHED_EVENTS_TABLE =
  "CREATE TABLE published_events (event_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, at INTEGER NOT NULL)";

/**
 * Publishes a producer's event once per event_id (a repeat answers the first seq and
 * publishes nothing), keeping its value when it asks to be retained. A value that could
 * never be kept is refused before anything is logged.
 */
export function publishProductEvent(
  memory: EventIdMemory,
  retained: RetainedValues,
  event: ProductEvent,
  now: number,
  publish: (retainKey: string | undefined) => LoggedEvent,
): Outcome<Delivered> {
  if (event.event_id !== undefined) {
    const seen = memory.recall<Delivered>(event.event_id);
    if (seen) return ok({ seq: seen.seq, duplicate: true });
  }
  const refusal = retained.refusalFor(event);
  if (refusal !== null) return fail("payload_too_large", refusal);
  const { seq } = publishRetained(retained, event, now, publish);
  if (event.event_id !== undefined) memory.remember(event.event_id, { seq } satisfies Delivered, now);
  return ok({ seq });
}
