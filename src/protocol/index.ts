// The wire contract (docs/protocol.md). Server and client both import from here; the
// client uses `import type` except for the tables and frame constants, and nothing in
// this folder imports anything outside it, so nothing of the server ships to browsers.
import type { BatchEvents, JobEvents } from "./jobs";
import type { RoomEvents, UserEvents } from "./users-and-rooms";

export * from "./jobs";
export * from "./users-and-rooms";
export * from "./wire";

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
