// Product events (`like:updated`, `campaign:launched`) on user and room channels: any type
// a product defines, deduplicated by the producer's optional event_id.
import type { EventIdMemory } from "../hub/event-ids";
import type { LoggedEvent } from "../hub/event-log";

/** What a producer hears back: the event's seq, and `duplicate` when the event_id was seen. */
export interface Delivered {
  seq: number;
  duplicate?: true;
}

/** The user and room hubs' first dedupe table, superseded by event_ids (see EventIdMemory). */
export const PUBLISHED_EVENTS_TABLE =
  "CREATE TABLE published_events (event_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, at INTEGER NOT NULL)";

/** Publishes once per event_id: a repeat answers the first seq and publishes nothing. */
export function publishOnce(memory: EventIdMemory, eventId: string | undefined, now: number, publish: () => LoggedEvent): Delivered {
  if (eventId !== undefined) {
    const seen = memory.recall<Delivered>(eventId);
    if (seen) return { seq: seen.seq, duplicate: true };
  }
  const { seq } = publish();
  if (eventId !== undefined) memory.remember(eventId, { seq } satisfies Delivered, now);
  return { seq };
}
