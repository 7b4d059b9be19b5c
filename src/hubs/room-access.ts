// Who may join a room: what a producer's PUT stored, and what a token's `rooms` claim grants.
import type { RoomVisibility } from "../protocol";

/** Who may join a room, as a producer's PUT set it. */
export interface RoomAccess {
  id: string;
  visibility: RoomVisibility;
  members: string[];
  updated_at: string;
}

/** Does a `rooms` claim grant `roomId`? A trailing `*` is a prefix match. */
export function claimGrants(claim: readonly string[], roomId: string): boolean {
  return claim.some((entry) => (entry.endsWith("*") ? roomId.startsWith(entry.slice(0, -1)) : entry === roomId));
}
