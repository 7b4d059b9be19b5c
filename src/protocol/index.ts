// The wire contract (docs/protocol.md). Server and client both import from here; the
// client uses `import type` except for the tables and frame constants, and nothing in
// this folder imports anything outside it, so nothing of the server ships to browsers.
import type { BatchEvents, JobEvents } from "./jobs.js";
import type { RoomEvents, UserEvents } from "./users-and-rooms.js";

export * from "./jobs.js";
export * from "./streams.js";
export * from "./users-and-rooms.js";
export * from "./webhooks.js";
export * from "./wire.js";

/**
 * Frame type -> data, per channel kind. The hubs publish through these maps and the
 * client's on() listens through them, so an event name misspelt on either side fails to
 * typecheck.
 */
export interface ChannelEventMaps {
  job: JobEvents;
  batch: BatchEvents;
  user: UserEvents;
  room: RoomEvents;
}
