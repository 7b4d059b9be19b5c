// `exclude_user` with the Dovetail client on a real hub: the excluded user's client gets
// no copy of the event, sees no gap, and never reconnects for it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient, type StatusChange } from "../../packages/client/src/index";
import { E2E_PRODUCER_KEY } from "./harness";
import { type Hub, recordingSockets, startHub, uniqueId, until } from "./hub";

let hub: Hub;

beforeAll(async () => {
  hub = await startHub();
});

afterAll(async () => {
  await hub?.dispose();
});

describe("exclude_user with the Dovetail client", () => {
  it("the excluded user's client skips the events it was excluded from, with no gap and no reconnect", async () => {
    const room = uniqueId("room");
    const [alice, bob] = [uniqueId("alice"), uniqueId("bob")];
    const put = await fetch(`${hub.url}/v1/rooms/${room}`, {
      method: "PUT",
      headers: { Authorization: `Bearer ${E2E_PRODUCER_KEY}`, "Content-Type": "application/json" },
      body: JSON.stringify({ visibility: "public" }),
    });
    expect(put.status).toBe(200);
    const watchers = await Promise.all(
      [alice, bob].map(async (user) => {
        const sockets = recordingSockets();
        const c = createClient({ url: hub.url, lifecycle: false, token: await hub.mintToken(user), WebSocket: sockets.WebSocket });
        const channel = c.room(room);
        const statuses: StatusChange[] = [];
        const seen: string[] = [];
        channel.on("status", (s) => statuses.push(s));
        channel.on("*", (frame) => {
          if (frame.seq !== undefined) seen.push(`${frame.type}@${frame.seq}`);
        });
        await until(`${user}'s room to open`, () => channel.status === "open");
        return { c, sockets, statuses, seen };
      }),
    );
    // Alternate: bob is left out of every other event, the way a like's author is.
    for (let i = 1; i <= 10; i++) {
      await hub.produce(`/v1/rooms/${room}/events`, {
        type: "like:updated",
        data: { likes: i },
        ...(i % 2 === 1 ? { exclude_user: bob } : {}),
      });
    }
    const [forAlice, forBob] = watchers as [(typeof watchers)[0], (typeof watchers)[0]];
    await until("alice to see all ten", () => forAlice.seen.length === 10);
    await until("bob to see his five", () => forBob.seen.length === 5);
    // One more for everyone: arriving after bob's skips, it must not look like a gap.
    await hub.produce(`/v1/rooms/${room}/events`, { type: "like:updated", data: { likes: 11 } });
    await until("bob to see the eleventh", () => forBob.seen.length === 6);
    expect(forBob.seen.map((s) => Number(s.split("@")[1]))).toEqual([2, 4, 6, 8, 10, 11]);
    expect(forBob.sockets.opened).toHaveLength(1);
    expect(forBob.statuses.map((s) => s.status)).toEqual(["open"]);
    expect(forAlice.seen).toHaveLength(11);
    for (const w of watchers) w.c.close();
  });
});
