// An idle stream with many live-mode sockets: its object's one alarm serves the heartbeat
// (and, days away, the stream's expiry) and nothing else, however many sockets are open and
// whatever was appended before.
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { installClock, timerNames } from "./clock";
import { connect, mintToken, type TestSocket, uniqueId } from "./helpers";
import { appendTo, createStream, OFFSET, streamPath } from "./streams";

const INTERVAL_MS = 30_000; // HEARTBEAT_INTERVAL_S in wrangler.toml
const READERS = 1_000;
/** MAX_SOCKETS_PER_CHANNEL in the test bindings: each user holds this many sockets on the stream. */
const SOCKETS_PER_USER = 4;

async function openReaders(path: string): Promise<{ users: string[]; sockets: TestSocket[] }> {
  const users = Array.from({ length: READERS / SOCKETS_PER_USER }, () => uniqueId("reader"));
  const sockets: TestSocket[] = [];
  // A user at a time: its sockets are admitted by its own session registry.
  for (let i = 0; i < users.length; i += 25) {
    const batch = await Promise.all(
      users.slice(i, i + 25).map(async (user) => {
        const token = await mintToken(user);
        return Promise.all(
          Array.from({ length: SOCKETS_PER_USER }, () => connect(`/v1/ws/stream/${path}`, { token, query: { offset: "now" } })),
        );
      }),
    );
    sockets.push(...batch.flat());
  }
  await Promise.all(sockets.map((s) => s.next("connected")));
  return { users, sockets };
}

/** Sockets the users' session registries still count, everywhere. */
async function registeredSockets(users: string[]): Promise<number> {
  const counts = await Promise.all(
    users.map((user) =>
      runInDurableObject(env.USER_HUB.getByName(user), (hub) => (hub as unknown as { socketsAnywhere(): number }).socketsAnywhere()),
    ),
  );
  return counts.reduce((a, b) => a + b, 0);
}

describe("an idle stream with 1,000 sockets", () => {
  it("keeps one timer, the heartbeat: its alarm runs only to beat, appends included", async () => {
    const path = streamPath("idle-readers");
    const stub = env.STREAM_HUB.getByName(path);
    const clock = await installClock([stub]);
    await createStream(path, "text/plain", { "Dovetail-Readers": "*" });
    const { users, sockets } = await openReaders(path);
    expect(sockets).toHaveLength(READERS);

    // Appends reach every socket through the in-memory coalescing timer, not the alarm.
    let tail = "";
    for (const part of ["one ", "two ", "three"]) tail = (await appendTo(path, part)).headers.get(OFFSET) as string;
    await Promise.all(
      sockets.map(async (socket) => {
        for (;;) if ((await socket.next("stream:data")).data.next_offset === tail) return;
      }),
    );
    const alarmAndBeat = () =>
      runInDurableObject(stub, async (_hub, state) => {
        const due = (name: string) => state.storage.sql.exec<{ due: number }>("SELECT due FROM timers WHERE name = ?", name).one().due;
        return { alarm: await state.storage.getAlarm(), beat: due("heartbeat"), expiry: due("expire") };
      });
    // The stream's default TTL is its only other timer, and it is days away.
    expect(await timerNames(stub)).toEqual(["heartbeat", "expire"]);
    const before = await alarmAndBeat();
    expect(before.alarm).toBe(before.beat);
    expect(before.expiry - before.beat).toBeGreaterThan(86_400_000);

    // The one alarm run in an interval beats every socket and re-arms for the next beat only.
    clock.advance(INTERVAL_MS);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    await Promise.all(sockets.map((s) => s.next("heartbeat")));
    expect(await timerNames(stub)).toEqual(["heartbeat", "expire"]);
    const after = await alarmAndBeat();
    expect(after.alarm).toBe(after.beat);
    expect(after.beat).toBe(before.beat + INTERVAL_MS);
    expect(sockets.every((s) => s.close === undefined)).toBe(true);
    // Every leave reaches its user's registry before the test ends.
    for (const s of sockets) s.hangUp();
    await expect.poll(() => registeredSockets(users), { timeout: 30_000, interval: 200 }).toBe(0);
  }, 90_000);
});
