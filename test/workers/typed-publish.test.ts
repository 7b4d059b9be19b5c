// The hubs publish through the same event maps (src/protocol/) the client listens with:
// an event type a hub kind does not have, or data of the wrong shape, fails to typecheck.
// `npm run typecheck` compiles this file; the classes are never instantiated.
import { describe, expect, it } from "vitest";
import { JobHub } from "../../src/hubs/job-hub";
import { RoomHub } from "../../src/hubs/room-hub";
import type { JobView } from "../../src/protocol";

class MisspeltJobHub extends JobHub {
  typo(view: JobView): void {
    // @ts-expect-error: "job:updte" is not a job event
    this.publish("job:updte", view);
    // @ts-expect-error: job:update carries a job view, not a number
    this.publish("job:update", 42);
    this.publish("job:update", view);
  }
}

class MisspeltRoomHub extends RoomHub {
  typo(): void {
    // @ts-expect-error: a room's ephemeral frames are its own events too
    this.frame("presence:joined", { user: { id: "u" } });
    this.frame("presence:join", { user: { id: "u" } });
  }
}

describe("typed publish", () => {
  it("compiles only the event types each hub kind has", () => {
    expect(MisspeltJobHub.prototype.typo).toBeTypeOf("function");
    expect(MisspeltRoomHub.prototype.typo).toBeTypeOf("function");
  });
});
