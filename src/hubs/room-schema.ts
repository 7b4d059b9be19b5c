// A room's own tables (the "room" component), in migration order: append, never edit.
import { moveIntoEventIds } from "../hub/event-ids";
import { RETAINED_SCHEMA } from "../hub/retained";
import { ROOM_SHARDS_SCHEMA } from "../rooms/room-shards";
import { MESSAGE_SHARE_SCHEMA } from "./message-shares";
import { PUBLISHED_EVENTS_TABLE } from "./product-events";
import { READ_RECEIPTS_SCHEMA } from "./read-receipts";

export const ROOM_SCHEMA: readonly string[] = [
  "CREATE TABLE room (singleton INTEGER PRIMARY KEY CHECK (singleton = 1), visibility TEXT NOT NULL, updated_at INTEGER NOT NULL)",
  "CREATE TABLE members (user_id TEXT PRIMARY KEY)",
  // Who is typing until when: lets the last tab's close send typing:false without a timer.
  "CREATE TABLE typing (user_id TEXT PRIMARY KEY, until INTEGER NOT NULL)",
  // Users whose presence:join went out and whose presence:leave has not: when two
  // tabs close at once each may see the other as already closing, and this keeps
  // the leave to one.
  "CREATE TABLE announced (user_id TEXT PRIMARY KEY)",
  PUBLISHED_EVENTS_TABLE,
  ...moveIntoEventIds("published_events", "json_object('seq', seq)"),
  ...MESSAGE_SHARE_SCHEMA,
  // The name too, so a member_left webhook sent after a restart still carries it.
  "ALTER TABLE announced ADD COLUMN name TEXT",
  ...ROOM_SHARDS_SCHEMA,
  ...RETAINED_SCHEMA,
  ...READ_RECEIPTS_SCHEMA,
];
