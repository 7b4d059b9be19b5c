// Who may read a stream, decided in the Worker from the path (section "Paths and auth"
// in docs/streams.md). Producers may do everything; a client only reads.
import type { Identity } from "../auth/jwt";
import { HubError } from "../errors";
import { claimGrants } from "../hubs/room-access";
import type { ReadAccess } from "./operation";
import type { StreamScope } from "./paths";

const refused = (why: string) => new HubError("forbidden", `this token may not read this stream: ${why}`);

/**
 * jobs/<id>/...: the job's owner and viewers; users/<id>/...: that user; rooms/<id>/...:
 * whoever the room's socket admits. Any other path is left to the stream itself, which
 * admits the users its producer listed in Dovetail-Readers. Unknown jobs and rooms are
 * refused like forbidden ones, so a client cannot probe which exist.
 */
export async function readAccess(env: Env, scope: StreamScope, identity: Identity): Promise<ReadAccess> {
  switch (scope.kind) {
    case "user":
      if (scope.id !== identity.id) throw refused("users/<id>/ streams are for that user only");
      return { kind: "admitted" };
    case "job": {
      const outcome = await env.JOB_HUB.getByName(scope.id).read(identity);
      if (!outcome.ok) throw refused("not the job's owner or a viewer");
      return { kind: "admitted" };
    }
    case "room":
      if (claimGrants(identity.rooms, scope.id) || (await env.ROOM_HUB.getByName(scope.id).mayWatch(scope.id, identity))) {
        return { kind: "admitted" };
      }
      throw refused("not a member of the room");
    case "granted":
      return { kind: "reader", user: identity.id };
  }
}
