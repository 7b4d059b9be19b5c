// What a big room's own object (the root) and its shard objects say to each other.
import type { ReadReceipt, RetainedValue, UserRef } from "../protocol";

/** A frame the root sends on to its shards, in order. Logged events carry their log row. */
export interface ShardItem {
  /** Absent for an item that only updates the shard's state (access). */
  frame?: string;
  /** Logged events: the root's seq, type and time, so the shard's copy of the log matches. */
  seq?: number;
  type?: string;
  at?: number;
  /** This user's sockets get no live copy (the typist, a joining user, exclude_user). */
  except?: string;
  /** Presence changes keep the shards' lists of who is online current; `version` orders them. */
  presence?: { user: UserRef; online: boolean; version: number };
  /** A producer's PUT changed who may join. */
  access?: RoomAccessRule;
}

/** A row of the root's log, for a shard that missed some or is starting. */
export type LogRow = {
  seq: number;
  type: string;
  at: number;
  frame: string;
};

/** Who may join, as the root knows it: shards admit sockets with the same rule. */
export interface RoomAccessRule {
  visibility: "private" | "public" | null;
  members: string[];
}

/** The root's answer to a shard catching up: its log after the shard's seq, and the room's state. */
export interface ShardSync {
  epoch: string;
  /** Rows after the shard's seq; when `reset`, the whole retained log (the shard's copy is replaced). */
  rows: LogRow[];
  reset: boolean;
  access: RoomAccessRule;
  online: UserRef[];
  presenceVersion: number;
  /** The room's retained values and latest read receipts, for the shard's snapshots. */
  retained: Record<string, RetainedValue>;
  reads: ReadReceipt[];
}

/** A shard's calls to the root, one RPC method on the root for all of them. */
export type ShardCall =
  | { op: "sync" | "report"; shard: number; seq: number; epoch: string | null; sockets: number }
  | { op: "presence"; shard: number; user: UserRef; online: boolean }
  | { op: "message"; shard: number; user: UserRef; text: string; data?: unknown }
  | { op: "typing"; shard: number; user: UserRef; typing: boolean }
  | { op: "read"; shard: number; user: UserRef; up_to: number };
