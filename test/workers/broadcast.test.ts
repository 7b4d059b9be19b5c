import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { DirectoryShard } from "../../src/broadcast/directory-shard";
import { unwrap } from "../../src/errors";
import { shardIndex } from "../../src/shards";
import { call, type Frame, produce, produceOk, type TestSocket, uniqueId } from "./helpers";
import { eventually, join, type Person, person, userSentinel } from "./people";

const SHARDS = Number(env.DIRECTORY_SHARDS);
const directory = (i: number) => env.DIRECTORY_SHARD.getByName(`directory-${i}`);

/** Users listed in every directory shard, read from storage. */
async function listed(): Promise<Set<string>> {
  const all = new Set<string>();
  for (let i = 0; i < SHARDS; i++) {
    const rows = await runInDurableObject(directory(i), (_o, state) =>
      state.storage.sql.exec<{ user_id: string }>("SELECT user_id FROM users").toArray(),
    );
    for (const row of rows) all.add(row.user_id);
  }
  return all;
}

async function online(name: string, sockets = 1): Promise<{ who: Person; sockets: TestSocket[] }> {
  const who = await person(name);
  const open: TestSocket[] = [];
  for (let i = 0; i < sockets; i++) open.push((await join("/v1/ws/user", who)).socket);
  return { who, sockets: open };
}

function broadcastFrames(socket: TestSocket, eventId: string): Frame[] {
  return socket.frames.filter((f) => f.data?.event === eventId || f.data?.id === eventId);
}

describe("POST /v1/broadcast", () => {
  it("reaches every user with an open socket, every tab of each, and reports how many users", async () => {
    const people = [await online("Ann", 2), await online("Ben"), await online("Cy", 3)];
    const offline = await online("Dee");
    for (const s of offline.sockets) s.hangUp();
    const ids = people.map((p) => p.who.id);
    await eventually(async () => {
      const now = await listed();
      if (!ids.every((id) => now.has(id)) || now.has(offline.who.id)) throw new Error(`directory not settled: ${[...now].join(",")}`);
    });

    const eventId = uniqueId("launch");
    const res = await produce("/v1/broadcast", { type: "campaign:launched", data: { event: eventId }, event_id: eventId });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ event_id: eventId, users: 3, users_reached: 3, pending: 0, complete: true });
    for (const { sockets } of people) {
      for (const socket of sockets) {
        const frame = await socket.next("campaign:launched");
        expect(frame).toMatchObject({ data: { event: eventId } });
        expect(frame.seq).toBeGreaterThan(0);
      }
    }
    expect(offline.sockets[0]!.frames.some((f) => f.type === "campaign:launched")).toBe(false);
    for (const { sockets } of people) for (const s of sockets) s.hangUp();
  });

  it("is idempotent by event_id: a retry reports the same reach and delivers nothing twice", async () => {
    const { who, sockets } = await online("Eve", 2);
    await eventually(async () => {
      if (!(await listed()).has(who.id)) throw new Error("not listed yet");
    });
    const body = { type: "campaign:launched", data: { event: uniqueId("e") }, event_id: uniqueId("launch") };
    const first = await produceOk<any>("/v1/broadcast", body);
    const again = await produceOk<any>("/v1/broadcast", body);
    expect(first.users_reached).toBeGreaterThanOrEqual(1);
    expect(again).toEqual({ ...first, duplicate: true });
    await userSentinel(who.id, sockets);
    for (const s of sockets) expect(broadcastFrames(s, body.data.event)).toHaveLength(1);
    for (const s of sockets) s.hangUp();
  });

  it("with notify: true, each user gets a notification kept in the inbox, once", async () => {
    const { who, sockets } = await online("Fay");
    await eventually(async () => {
      if (!(await listed()).has(who.id)) throw new Error("not listed yet");
    });
    const eventId = uniqueId("maint");
    const body = { type: "system:maintenance", data: { at: "22:00" }, event_id: eventId, notify: true, title: "Maintenance at 22:00" };
    await produceOk("/v1/broadcast", body);
    await produceOk("/v1/broadcast", body);
    const frame = await sockets[0]!.next("notification");
    expect(frame.data).toMatchObject({ id: eventId, kind: "system:maintenance", title: "Maintenance at 22:00", data: { at: "22:00" } });
    const inbox = await call("/v1/me/notifications", { headers: { Authorization: `Bearer ${who.token}` } });
    const { notifications } = await inbox.json<any>();
    expect(notifications.filter((n: any) => n.id === eventId)).toHaveLength(1);
    await userSentinel(who.id, sockets);
    expect(broadcastFrames(sockets[0]!, eventId)).toHaveLength(1);
    sockets[0]!.hangUp();
  });

  it("drops a user from the directory when their last socket closes", async () => {
    const { who, sockets } = await online("Gus", 2);
    await eventually(async () => {
      if (!(await listed()).has(who.id)) throw new Error("not listed yet");
    });
    sockets[0]!.hangUp();
    await userSentinel(who.id, [sockets[1]!]);
    expect((await listed()).has(who.id)).toBe(true);
    sockets[1]!.hangUp();
    await eventually(async () => {
      if ((await listed()).has(who.id)) throw new Error("still listed");
    });
  });

  it("answers 202 when the request's time is up, and the shard's alarm finishes the fan-out, once per user", async () => {
    // Four users listed in shard 0, which is told to call one hub per run and whose clock
    // jumps past the request's budget after the first run.
    const people: { who: Person; sockets: TestSocket[] }[] = [];
    while (people.length < 4) {
      const candidate = await person("Hal");
      if (shardIndex(candidate.id, SHARDS) !== 0) continue;
      people.push({ who: candidate, sockets: [(await join("/v1/ws/user", candidate)).socket] });
    }
    await eventually(async () => {
      const now = await listed();
      if (!people.every((p) => now.has(p.who.id))) throw new Error("not listed yet");
    });
    let calls = 0;
    await runInDurableObject(directory(0), (instance: DirectoryShard) => {
      instance.callsPerRun = 1;
      const start = Date.now();
      instance.now = () => (calls++ < 2 ? start : start + 60_000);
    });
    const eventId = uniqueId("slow");
    const res = await produce("/v1/broadcast", { type: "campaign:launched", data: { event: eventId }, event_id: eventId });
    expect(res.status).toBe(202);
    const partial = await res.json<any>();
    expect(partial).toMatchObject({ complete: false });
    expect(partial.pending).toBeGreaterThanOrEqual(3);

    for (let i = 0; i < 10 && unwrap(await directory(0).progress(eventId))?.pending; i++) await runDurableObjectAlarm(directory(0));
    expect(unwrap(await directory(0).progress(eventId))).toMatchObject({ pending: 0 });
    const retry = await produceOk<any>("/v1/broadcast", { type: "campaign:launched", data: { event: eventId }, event_id: eventId });
    expect(retry).toMatchObject({ complete: true, pending: 0, duplicate: true });
    expect(retry.users_reached).toBeGreaterThanOrEqual(4);
    for (const { who, sockets } of people) {
      await userSentinel(who.id, sockets);
      expect(broadcastFrames(sockets[0]!, eventId)).toHaveLength(1);
      sockets[0]!.hangUp();
    }
  });

  it("refuses bad bodies and non-producers, creating nothing", async () => {
    const bad = [
      { type: "campaign:launched", data: {} }, // no event_id
      { type: "BAD TYPE", data: {}, event_id: "x1" },
      { type: "connected", data: {}, event_id: "x2" }, // reserved
      { type: "campaign:launched", event_id: "has space" },
      { type: "campaign:launched", event_id: "x3", title: "needs notify" },
    ];
    for (const body of bad) {
      const res = await produce("/v1/broadcast", body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect((await res.json<any>()).error.code).toBe("validation_failed");
    }
    const user = await person("Ivy");
    const res = await call("/v1/broadcast", {
      method: "POST",
      headers: { Authorization: `Bearer ${user.token}`, "Content-Type": "application/json" },
      body: JSON.stringify({ type: "campaign:launched", event_id: "x4" }),
    });
    expect(res.status).toBe(401);
    for (let i = 0; i < SHARDS; i++) {
      for (const id of ["x1", "x2", "x3", "x4"]) expect(unwrap(await directory(i).progress(id))).toBeNull();
    }
  });
});
