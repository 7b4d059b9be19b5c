// A big room (CHANNEL_SHARD_SOCKETS is 50 here): sockets past the room's own object land
// on its shard objects, every socket gets every event once and in order wherever it is,
// resume works on a shard, presence stays one per user, and an empty shard costs nothing.
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { RoomHub } from "../../src/hubs/room-hub";
import type { RoomShard } from "../../src/rooms/room-shard";
import { shardName } from "../../src/rooms/room-shards";
import { connect, produceOk, type TestSocket, uniqueId } from "./helpers";
import { count, eventually, hangUpAll, join, type Person, person, roomSentinel, seen } from "./people";

const THRESHOLD = Number(env.CHANNEL_SHARD_SOCKETS);

async function publicRoom(): Promise<string> {
  const id = uniqueId("big");
  await produceOk(`/v1/rooms/${id}`, { visibility: "public" }, { method: "PUT" });
  return id;
}

const roomStats = (id: string) => produceOk<any>(`/v1/rooms/${id}/stats`, undefined, { method: "GET" });

/** `n` sockets of `n / perUser` people, joined one after another. */
async function fill(id: string, n: number, perUser = 2): Promise<{ sockets: TestSocket[]; people: Person[] }> {
  const sockets: TestSocket[] = [];
  const people: Person[] = [];
  for (let i = 0; i < n; i++) {
    if (i % perUser === 0) people.push(await person(`Viewer${i}`));
    sockets.push((await join(`/v1/ws/room/${id}`, people.at(-1) as Person)).socket);
  }
  return { sockets, people };
}

/** Logged frames of `type` a socket got, as their seqs. */
const seqsOf = (socket: TestSocket, type: string) => socket.frames.filter((f) => f.type === type && f.seq !== undefined).map((f) => f.seq);

/** Which shard objects of a room hold sockets, and how many, straight from each shard. */
async function shardSockets(id: string, shards: number): Promise<number[]> {
  const counts: number[] = [];
  for (let i = 1; i <= shards; i++) {
    counts.push(
      await runInDurableObject(env.ROOM_SHARD.getByName(shardName(id, i)), (_o: RoomShard, state) => state.getWebSockets().length),
    );
  }
  return counts;
}

describe("a room past CHANNEL_SHARD_SOCKETS", () => {
  it("puts new sockets on shard objects, and every socket gets every event once, in order", async () => {
    const id = await publicRoom();
    const { sockets } = await fill(id, THRESHOLD + 20);
    const stats = await eventually(async () => {
      const s = await roomStats(id);
      if (s.open_sockets + s.shard_sockets !== THRESHOLD + 20) throw new Error(`not reported yet: ${JSON.stringify(s)}`);
      return s;
    });
    expect(stats.open_sockets).toBe(THRESHOLD);
    expect(stats.shards).toBeGreaterThanOrEqual(1);
    const perShard = await shardSockets(id, stats.shards);
    expect(perShard.reduce((a, b) => a + b, 0)).toBe(20);
    for (const n of perShard) expect(n).toBeLessThanOrEqual(THRESHOLD);

    const published = [];
    for (let i = 0; i < 5; i++)
      published.push((await produceOk<any>(`/v1/rooms/${id}/events`, { type: "score:updated", data: { i } })).seq);
    await roomSentinel(id, sockets);
    for (const socket of sockets) expect(seqsOf(socket, "score:updated")).toEqual(published);
    await hangUpAll(sockets);
  });

  it("places sockets from the root's advertisement: no call to the root per socket", async () => {
    const id = await publicRoom();
    const { sockets } = await fill(id, THRESHOLD);
    // Count the Workers' asks for a fresh advertisement while 20 more sockets join.
    const proto = RoomHub.prototype as unknown as { route: (this: RoomHub) => unknown };
    const route = proto.route;
    let asks = 0;
    proto.route = function (this: RoomHub) {
      asks++;
      return route.call(this);
    };
    try {
      sockets.push(...(await fill(id, 20)).sockets);
    } finally {
      proto.route = route;
    }
    const stats = await roomStats(id);
    // None of the 20 reached the root (it took 50 connects, no more), and the Worker asked
    // once per grant of a tenth of the threshold.
    expect(stats.counters.connects).toBe(THRESHOLD);
    expect(asks).toBeGreaterThan(0);
    expect(asks).toBeLessThanOrEqual(Math.ceil(20 / (THRESHOLD / 10)) + 1);
    await hangUpAll(sockets);
  });

  it("opens only the shards its sockets fill when many join at once", async () => {
    const id = await publicRoom();
    const { sockets } = await fill(id, THRESHOLD);
    // Two shards' worth at once: every Worker placement that finds no slot asks the root at
    // the same moment, and each answer grants places on every open shard.
    const people = await Promise.all(Array.from({ length: THRESHOLD }, (_, i) => person(`Rush${i}`)));
    const rush = await Promise.all(
      Array.from({ length: 2 * THRESHOLD }, async (_, i) => (await join(`/v1/ws/room/${id}`, people[i % THRESHOLD] as Person)).socket),
    );
    const stats = await eventually(async () => {
      const s = await roomStats(id);
      if (s.shard_sockets !== 2 * THRESHOLD) throw new Error(`not reported yet: ${JSON.stringify(s)}`);
      return s;
    });
    expect(stats.open_sockets).toBe(THRESHOLD);
    // Two are full; a third may take what they overshot by: the sockets on their way to a
    // shard when it reports are not in its count yet.
    const perShard = await shardSockets(id, stats.shards);
    expect(stats.shards, `sockets per shard: ${perShard.join(" ")}`).toBeLessThanOrEqual(3);
    for (const n of perShard) expect(n, `sockets per shard: ${perShard.join(" ")}`).toBeLessThanOrEqual(1.5 * THRESHOLD);
    await hangUpAll([...sockets, ...rush]);
  });

  it("resumes a socket on a shard from the root's log, exactly once", async () => {
    const id = await publicRoom();
    const viewer = await person("Early");
    // Connected to the room's own object before any shard existed; it drops after one event.
    const early = (await join(`/v1/ws/room/${id}`, viewer)).socket;
    await produceOk(`/v1/rooms/${id}/events`, { type: "score:updated", data: { n: 1 } });
    const seenSeq = (await early.next("score:updated")).seq as number;
    const epoch = early.frames[0]!.data.epoch;
    early.hangUp();
    await early.closed();
    const missed = [];
    for (let n = 2; n <= 4; n++) missed.push((await produceOk<any>(`/v1/rooms/${id}/events`, { type: "score:updated", data: { n } })).seq);
    // The room fills up; the resuming socket lands on a shard, whose copy of the log began
    // after these events were published.
    const { sockets } = await fill(id, THRESHOLD);
    const back = await connect(`/v1/ws/room/${id}`, { token: viewer.token, query: { since: seenSeq, epoch } });
    const hello = await back.next("connected");
    expect(hello.data).toMatchObject({ resumed: true, epoch });
    const live = (await produceOk<any>(`/v1/rooms/${id}/events`, { type: "score:updated", data: { n: 5 } })).seq;
    await roomSentinel(id, [back]);
    expect(seqsOf(back, "score:updated")).toEqual([...missed, live]);
    const stats = await eventually(async () => {
      const s = await roomStats(id);
      if (s.shard_sockets !== 1) throw new Error(`not reported yet: ${JSON.stringify(s)}`);
      return s;
    });
    expect(stats.open_sockets).toBe(THRESHOLD);
    await hangUpAll([...sockets, back]);
  });

  it("announces presence once per user across the root and the shards", async () => {
    const id = await publicRoom();
    const { sockets } = await fill(id, THRESHOLD);
    const ann = await person("Ann");
    const watcherOnShard = await person("Watcher");
    const watcher = (await join(`/v1/ws/room/${id}`, watcherOnShard)).socket; // past the threshold: a shard
    const a1 = (await join(`/v1/ws/room/${id}`, ann)).socket;
    const a2 = (await join(`/v1/ws/room/${id}`, ann)).socket;
    for (const observer of [watcher, sockets[0]!]) {
      await seen(observer, (f) => f.type === "presence:join" && f.data.user.id === ann.id, "Ann's join");
    }
    await roomSentinel(id, [watcher, sockets[0]!]);
    for (const observer of [watcher, sockets[0]!]) {
      expect(observer.frames.filter((f) => f.type === "presence:join" && f.data.user.id === ann.id)).toHaveLength(1);
    }
    const online = await produceOk<any>(`/v1/rooms/${id}/presence`, undefined, { method: "GET" });
    expect(online.online.map((u: any) => u.id)).toEqual(expect.arrayContaining([ann.id, watcherOnShard.id]));
    // A new socket's snapshot lists users on shards too.
    const fresh = (await join(`/v1/ws/room/${id}`, await person("Fresh"))).connected;
    expect(fresh.data.snapshot.online.map((u: any) => u.id)).toEqual(expect.arrayContaining([ann.id, watcherOnShard.id]));

    a1.hangUp();
    await a1.closed();
    await roomSentinel(id, [watcher, sockets[0]!]);
    expect(count(sockets[0]!, "presence:leave")).toBe(0);
    a2.hangUp();
    await a2.closed();
    for (const observer of [watcher, sockets[0]!]) {
      await seen(observer, (f) => f.type === "presence:leave" && f.data.user.id === ann.id, "Ann's leave");
    }
    await roomSentinel(id, [watcher]);
    expect(watcher.frames.filter((f) => f.type === "presence:leave" && f.data.user.id === ann.id)).toHaveLength(1);
    await hangUpAll([...sockets, watcher]);
  });

  it("takes messages and typing from a shard's sockets through the root", async () => {
    const id = await publicRoom();
    const { sockets } = await fill(id, THRESHOLD);
    const talker = await person("Talker");
    const onShard = (await join(`/v1/ws/room/${id}`, talker)).socket;
    const ack = await onShard.request({ type: "message", text: "hello from a shard" });
    expect(ack.type).toBe("ack");
    // The sender saw its own message before the ack, as on the room's own object.
    const own = onShard.frames.findIndex((f) => f.type === "message");
    expect(own).toBeGreaterThanOrEqual(0);
    expect(own).toBeLessThan(onShard.frames.indexOf(ack));
    const onRoot = await sockets[0]!.next("message");
    expect(onRoot).toMatchObject({
      seq: ack.data.seq,
      data: { id: ack.data.id, from: talker.id, name: "Talker", text: "hello from a shard" },
    });
    onShard.send({ type: "typing", typing: true });
    const typing = await sockets[1]!.next("typing");
    expect(typing.data).toMatchObject({ user: { id: talker.id }, typing: true });
    await hangUpAll([...sockets, onShard]);
  });

  it("gives an excluded user's sockets on a shard a skip for the event's seq, so they see no gap", async () => {
    const id = await publicRoom();
    const { sockets } = await fill(id, THRESHOLD);
    const actor = await person("Actor");
    const onShard = (await join(`/v1/ws/room/${id}`, actor)).socket;
    const { seq } = await produceOk<any>(`/v1/rooms/${id}/events`, { type: "like:updated", data: { likes: 1 }, exclude_user: actor.id });
    const next = (await produceOk<any>(`/v1/rooms/${id}/events`, { type: "like:updated", data: { likes: 2 } })).seq;
    await roomSentinel(id, [onShard, sockets[0]!]);
    expect(onShard.frames.find((f) => f.type === "skip")?.data).toEqual({ seq });
    expect(seqsOf(onShard, "like:updated")).toEqual([next]);
    expect(seqsOf(sockets[0]!, "like:updated")).toEqual([seq, next]);
    await hangUpAll([...sockets, onShard]);
  });

  it("stops calling a shard once its last socket has gone", async () => {
    const id = await publicRoom();
    const { sockets } = await fill(id, THRESHOLD + 3);
    const onShards = sockets.slice(THRESHOLD);
    await hangUpAll(onShards);
    const stats = await eventually(async () => {
      const s = await roomStats(id);
      if (s.shards !== 0) throw new Error(`a shard still counts: ${JSON.stringify(s)}`);
      return s;
    });
    expect(stats).toMatchObject({ shards: 0, shard_sockets: 0, open_sockets: THRESHOLD });
    const shard = env.ROOM_SHARD.getByName(shardName(id, 1));
    const copyBefore = await runInDurableObject(
      shard,
      (_o: RoomShard, state) => state.storage.sql.exec<{ n: number | null }>("SELECT MAX(seq) AS n FROM events").one().n,
    );
    for (let i = 0; i < 3; i++) await produceOk(`/v1/rooms/${id}/events`, { type: "score:updated", data: { i } });
    await roomSentinel(id, sockets.slice(0, THRESHOLD));
    const copyAfter = await runInDurableObject(
      shard,
      (_o: RoomShard, state) => state.storage.sql.exec<{ n: number | null }>("SELECT MAX(seq) AS n FROM events").one().n,
    );
    expect(copyAfter).toBe(copyBefore);
    await hangUpAll(sockets.slice(0, THRESHOLD));
  });

  it("repairs a lost delivery: the shard fetches the missing events and sends them in order", async () => {
    const id = await publicRoom();
    const { sockets } = await fill(id, THRESHOLD + 2);
    // The root's next call to shard 1 fails (as if the network dropped it).
    await runInDurableObject(env.ROOM_HUB.getByName(id), (instance: RoomHub) => {
      const fanout = (instance as unknown as { shards: { fanout: { send: (shard: number, items: unknown[]) => Promise<void> } } }).shards
        .fanout;
      const send = fanout.send;
      let failed = false;
      fanout.send = (shard, items) => {
        if (shard !== 1 || failed) return send(shard, items);
        failed = true;
        return Promise.reject(new Error("network lost the call"));
      };
    });
    const seqs = [];
    for (let i = 0; i < 3; i++) seqs.push((await produceOk<any>(`/v1/rooms/${id}/events`, { type: "score:updated", data: { i } })).seq);
    await roomSentinel(id, sockets);
    for (const socket of sockets.slice(THRESHOLD)) expect(seqsOf(socket, "score:updated")).toEqual(seqs);
    await hangUpAll(sockets);
  });
});
