import { runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { installClock, type TestClock } from "./clock";
import { storedRows } from "./faults";
import { connect, mintToken, produce, produceOk, uniqueId } from "./helpers";

const DAY = 86_400_000;

/** Moves the hub's clock and runs whatever became due, as the alarm would. */
async function pass(clock: TestClock, ms: number, stub: DurableObjectStub<Rpc.DurableObjectBranded>): Promise<void> {
  clock.advance(ms);
  await runDurableObjectAlarm(stub);
}

describe("idle expiry (ROOM_IDLE_TTL_S, USER_IDLE_TTL_S: 90 days)", () => {
  it("deletes a room 90 days after its last activity, and each activity pushes that back", async () => {
    const room = uniqueId("room");
    const stub = env.ROOM_HUB.getByName(room);
    const clock = await installClock([stub]);
    await produceOk(`/v1/rooms/${room}`, { visibility: "public" }, { method: "PUT" });
    await produceOk(`/v1/rooms/${room}/events`, { type: "like:updated", data: { likes: 1 } });
    await pass(clock, 50 * DAY, stub);
    const socket = await connect(`/v1/ws/room/${room}`, { token: await mintToken(uniqueId("bob")) });
    await socket.next("connected");
    socket.hangUp();
    for (let i = 0; i < 100; i++) {
      const presence = await produceOk<{ online: unknown[] }>(`/v1/rooms/${room}/presence`, undefined, { method: "GET" });
      if (presence.online.length === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await pass(clock, 45 * DAY, stub); // 95 days after the event, 45 after the socket left
    expect(await storedRows(stub)).toBeGreaterThan(0);
    await pass(clock, 46 * DAY, stub);
    expect(await storedRows(stub)).toBe(0);
    // Gone as if never configured: a stranger without a rooms claim is refused.
    const late = await connect(`/v1/ws/room/${room}`, { token: await mintToken(uniqueId("carol")) });
    expect((await late.closed()).code).toBe(4003);
  });

  it("deletes a user channel (inbox, event_id memory, last_seen) 90 days after its last activity", async () => {
    const user = uniqueId("alice");
    const stub = env.USER_HUB.getByName(user);
    const clock = await installClock([stub]);
    await produceOk(`/v1/users/${user}/notifications`, { id: "n1", kind: "hello" });
    await produceOk(`/v1/users/${user}/events`, { type: "campaign:launched", data: {}, event_id: "e1" });
    await pass(clock, 89 * DAY, stub);
    expect(await storedRows(stub)).toBeGreaterThan(0);
    await pass(clock, 2 * DAY, stub);
    expect(await storedRows(stub)).toBe(0);
    const presence = await (await produce(`/v1/users/${user}/presence`, undefined, { method: "GET" })).json();
    expect(presence).toMatchObject({ online: false, last_seen: null });
  });

  it("keeps a user's channel while the user has a socket open on another channel", async () => {
    const user = uniqueId("alice");
    const stub = env.USER_HUB.getByName(user);
    const clock = await installClock([stub]);
    await produceOk(`/v1/users/${user}/notifications`, { id: "n1", kind: "hello" });
    const job = uniqueId("job");
    await produceOk("/v1/jobs", { id: job, owner: user });
    const socket = await connect(`/v1/ws/job/${job}`, { token: await mintToken(user) });
    await socket.next("connected");
    await pass(clock, 91 * DAY, stub);
    expect(await storedRows(stub)).toBeGreaterThan(0);
    socket.hangUp();
  });
});
