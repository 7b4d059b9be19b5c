import type { Attachment } from "../hub/connections";
import type { UserRef } from "../protocol";

export interface OnlineUser {
  user: UserRef;
  connections: number;
}

/**
 * Who is online, one entry per user however many tabs, in order of arrival. Computed from
 * the sockets' attachments, which survive hibernation, so there is no counter to lose
 * when the object sleeps and no counter to drift when a close is missed.
 *
 * `leaving` is the socket being closed: in webSocketClose the runtime may still list it
 * as open, so it is left out by connection id.
 */
export function onlineUsers(attachments: Attachment[], leaving?: Attachment): OnlineUser[] {
  const byUser = new Map<string, OnlineUser>();
  for (const who of attachments) {
    if (leaving && who.cid === leaving.cid) continue;
    const seen = byUser.get(who.user.id);
    if (seen) seen.connections += 1;
    else byUser.set(who.user.id, { user: who.user, connections: 1 });
  }
  return [...byUser.values()];
}
