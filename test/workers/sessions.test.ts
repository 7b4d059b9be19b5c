// Session control, the way a backend and a browser drive it: tokens that expire on open
// sockets (and the `auth` frame that refreshes them), revocation by room PUT, by the
// disconnect route and by the deny-list, and a user's sockets counted across channels.
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { installClock } from "./clock";
import { failRpc } from "./faults";
import { call, connect, createJob, mintToken, produce, produceOk, uniqueId } from "./helpers";
import { eventually, hangUpAll, join, person } from "./people";

const GRACE_MS = 30_000; // TOKEN_GRACE_S default
const INTERVAL_MS = 30_000; // HEARTBEAT_INTERVAL_S

describe("token expiry on open sockets", () => {
  it("closes a socket with 4001 at exp + TOKEN_GRACE_S, from the heartbeat timer", async () => {
    const owner = uniqueId("alice");
    const id = uniqueId("job");
    const stub = env.JOB_HUB.getByName(id);
    const clock = await installClock([stub]);
    await createJob(owner, { id });
    const short = await connect(`/v1/ws/job/${id}`, { token: await mintToken(owner, { expiresIn: "8s" }) });
    const long = await connect(`/v1/ws/job/${id}`, { token: await mintToken(owner, { expiresIn: "1h" }) });
    await short.next("connected");
    await long.next("connected");

    // 8 s of token + 30 s of grace: the beat is brought forward to the deadline.
    clock.advance(8_000 + GRACE_MS - 2_000);
    await runDurableObjectAlarm(stub);
    long.send({ type: "ping" });
    await long.next("pong");
    expect(short.close).toBeUndefined();
    clock.advance(4_000);
    await runDurableObjectAlarm(stub);
    expect(await short.closed()).toMatchObject({ code: 4001, reason: "token expired" });
    expect(long.close).toBeUndefined();
    long.hangUp();
  });

  it("moves the deadline with an acked auth frame, and refuses another user's or an expired token", async () => {
    const owner = uniqueId("alice");
    const id = uniqueId("job");
    const stub = env.JOB_HUB.getByName(id);
    const clock = await installClock([stub]);
    await createJob(owner, { id });
    const socket = await connect(`/v1/ws/job/${id}`, { token: await mintToken(owner, { expiresIn: "60s" }) });
    await socket.next("connected");

    const other = await socket.request({ type: "auth", token: await mintToken(uniqueId("mallory"), { expiresIn: "1h" }) });
    expect(other.data).toMatchObject({ code: "forbidden" });
    const stale = await socket.request({ type: "auth", token: await mintToken(owner, { expiresIn: Math.floor(Date.now() / 1000) - 60 }) });
    expect(stale.data).toMatchObject({ code: "unauthorized", message: "token expired" });
    const fresh = await socket.request({ type: "auth", token: await mintToken(owner, { expiresIn: "2m" }) });
    expect(fresh.type).toBe("ack");
    expect(Date.parse(fresh.data.expires_at)).toBeGreaterThan(Date.now() + 110_000);

    // Past the old deadline: still open, with heartbeats on the way.
    clock.advance(60_000 + GRACE_MS + 1_000);
    socket.send({ type: "ping" });
    await socket.next("pong");
    await runDurableObjectAlarm(stub);
    expect(socket.close).toBeUndefined();
    // Past the new one, 2 min + grace (kept alive by pings, so only the token can end it).
    for (let t = 0; t < 2; t++) {
      clock.advance(INTERVAL_MS);
      socket.send({ type: "ping" });
      await socket.next("pong");
      await runDurableObjectAlarm(stub);
    }
    expect(await socket.closed()).toMatchObject({ code: 4001, reason: "token expired" });
  });

  it("keeps the JWT's own exp on a socket opened with a ticket", async () => {
    const user = uniqueId("alice");
    const stub = env.USER_HUB.getByName(user);
    // On the Worker's time: the hub refuses a ticket already expired by its own clock.
    const clock = await installClock([stub], Date.now());
    const token = await mintToken(user, { expiresIn: "20s" });
    const res = await call("/v1/tickets", { method: "POST", headers: { Authorization: `Bearer ${token}` } });
    const { ticket } = await res.json<{ ticket: string }>();
    const socket = await connect("/v1/ws/user", { query: { ticket } });
    await socket.next("connected");
    clock.advance(20_000 + GRACE_MS + 1_000);
    await runDurableObjectAlarm(stub);
    expect(await socket.closed()).toMatchObject({ code: 4001, reason: "token expired" });
  });
});

describe("revocation by room PUT", () => {
  it("closes a member removed from a private room with 4003; the others stay", async () => {
    const alice = await person("Alice");
    const bob = await person("Bob");
    const room = uniqueId("room");
    await produceOk(`/v1/rooms/${room}`, { visibility: "private", members: [alice.id, bob.id] }, { method: "PUT" });
    const a = (await join(`/v1/ws/room/${room}`, alice)).socket;
    const b = (await join(`/v1/ws/room/${room}`, bob)).socket;
    await produceOk(`/v1/rooms/${room}`, { visibility: "private", members: [alice.id] }, { method: "PUT" });
    expect((await b.closed()).code).toBe(4003);
    await a.request({ type: "message", text: "bob is gone" });
    expect((await a.next("presence:leave")).data.user.id).toBe(bob.id);
    expect(a.close).toBeUndefined();
    await hangUpAll([a]);
  });

  it("closes outsiders when a public room turns private, and keeps members and `rooms` claims", async () => {
    const member = await person("Member");
    const claimed = await person("Claimed", ["team-*"]);
    const outsider = await person("Outsider");
    const room = `team-${uniqueId("room")}`;
    await produceOk(`/v1/rooms/${room}`, { visibility: "public" }, { method: "PUT" });
    const sockets = await Promise.all([member, claimed, outsider].map(async (p) => (await join(`/v1/ws/room/${room}`, p)).socket));
    await produceOk(`/v1/rooms/${room}`, { visibility: "private", members: [member.id] }, { method: "PUT" });
    expect(await sockets[2]?.closed()).toMatchObject({ code: 4003 });
    const sent = await sockets[0]?.request({ type: "message", text: "still here" });
    expect(sent?.type).toBe("ack");
    expect((await sockets[1]?.next("message"))?.data.text).toBe("still here");
    await hangUpAll([sockets[0], sockets[1]].filter((s) => s !== undefined));
  });

  it("a member removed while the registry admits them is refused, and the registry forgets the socket", async () => {
    const alice = await person("Alice");
    const bob = await person("Bob");
    const room = uniqueId("room");
    await produceOk(`/v1/rooms/${room}`, { visibility: "private", members: [alice.id, bob.id] }, { method: "PUT" });
    const held = await failRpc(env.ROOM_HUB.getByName(room), "USER_HUB", "openSession", { target: bob.id, mode: "delay" });
    const upgrade = connect(`/v1/ws/room/${room}`, { token: bob.token });
    await held.parked();
    await produceOk(`/v1/rooms/${room}`, { visibility: "private", members: [alice.id] }, { method: "PUT" });
    held.release();
    const socket = await upgrade;
    expect((await socket.closed()).code).toBe(4003);
    // Read the registry's rows as stored: GET presence would re-count and hide a stale one.
    const counted = () =>
      runInDurableObject(env.USER_HUB.getByName(bob.id), (_, state) =>
        state.storage.sql.exec<{ sockets: number }>("SELECT sockets FROM sessions WHERE channel = ?", `room:${room}`).toArray(),
      );
    await eventually(async () => expect((await counted()).every((row) => row.sockets === 0)).toBe(true));
  });
});

/** A user with a socket on their user channel, a job, a room and a batch. */
async function everywhere(userId: string, token: string) {
  const job = await createJob(userId);
  const batch = uniqueId("batch");
  await produceOk("/v1/batches", { id: batch, owner: userId, jobs: [job] });
  const room = uniqueId("room");
  await produceOk(`/v1/rooms/${room}`, { visibility: "public" }, { method: "PUT" });
  const paths = ["/v1/ws/user", `/v1/ws/job/${job}`, `/v1/ws/room/${room}`, `/v1/ws/batch/${batch}`];
  const sockets = [];
  for (const path of paths) {
    const socket = await connect(path, { token });
    await socket.next("connected");
    sockets.push(socket);
  }
  return { sockets, room, job };
}

describe("POST /v1/users/:id/disconnect", () => {
  it("closes the user's sockets on every channel kind with 4003, lists them in presence before, and leaves others alone", async () => {
    const user = uniqueId("alice");
    const { sockets, room } = await everywhere(user, await mintToken(user));
    const bystander = await person("Bystander");
    const b = (await join(`/v1/ws/room/${room}`, bystander)).socket;

    const presence = await produceOk<any>(`/v1/users/${user}/presence`, undefined, { method: "GET" });
    expect(presence).toMatchObject({ online: true, connections: 4 });
    expect(presence.channels.map((c: { channel: string }) => c.channel.split(":")[0]).sort()).toEqual(["batch", "job", "room", "user"]);

    const res = await produceOk<any>(`/v1/users/${user}/disconnect`);
    expect(res.closed).toBe(4);
    for (const socket of sockets) expect(await socket.closed()).toMatchObject({ code: 4003, reason: "disconnected" });
    expect(b.close).toBeUndefined();
    expect((await b.request({ type: "message", text: "hi" })).type).toBe("ack");
    // A kick, not a ban: the same token connects again.
    const again = await connect("/v1/ws/user", { token: await mintToken(user) });
    expect((await again.next()).type).toBe("connected");
    await hangUpAll([again, b]);
  });

  it("needs the producer key", async () => {
    const res = await produce(`/v1/users/${uniqueId("u")}/disconnect`, undefined, { key: "wrong_key_0123456789abcdefghijklmn" });
    expect(res.status).toBe(401);
  });
});

describe("POST /v1/revocations", () => {
  it("revokes one token by jti: its sockets close with 4001 and it cannot reconnect; another token of the user can", async () => {
    const user = uniqueId("alice");
    const revoked = await mintToken(user, { claims: { jti: "tok-1" } });
    const { sockets } = await everywhere(user, revoked);
    const kept = await connect("/v1/ws/user", { token: await mintToken(user, { claims: { jti: "tok-2" } }) });
    await kept.next("connected");

    const res = await produceOk<any>("/v1/revocations", { sub: user, jti: "tok-1", ttl_s: 3600 });
    expect(res.closed).toBe(4);
    for (const socket of sockets) expect(await socket.closed()).toMatchObject({ code: 4001, reason: "token revoked" });
    expect(kept.close).toBeUndefined();
    expect(await (await connect("/v1/ws/user", { token: revoked })).closed()).toMatchObject({ code: 4001, reason: "token revoked" });
    // Nor can it refresh another socket in place.
    expect((await kept.request({ type: "auth", token: revoked })).data).toMatchObject({ code: "unauthorized" });
    await hangUpAll([kept]);
  });

  it("bans a user by sub for ttl_s: every socket closes with 4003 and upgrades are refused until the TTL ends", async () => {
    const user = uniqueId("alice");
    const stub = env.USER_HUB.getByName(user);
    const clock = await installClock([stub]);
    const { sockets } = await everywhere(user, await mintToken(user));
    await produceOk("/v1/revocations", { sub: user, ttl_s: 600 });
    for (const socket of sockets) expect(await socket.closed()).toMatchObject({ code: 4003, reason: "user revoked" });
    const job = await createJob(user);
    expect((await (await connect(`/v1/ws/job/${job}`, { token: await mintToken(user) })).closed()).code).toBe(4003);
    clock.advance(601_000);
    const back = await connect(`/v1/ws/job/${job}`, { token: await mintToken(user) });
    expect((await back.next()).type).toBe("connected");
    await hangUpAll([back]);
  });

  it("refuses a bad body", async () => {
    for (const body of [{}, { jti: "x" }, { sub: "bad id" }, { sub: "a", ttl_s: 0 }, { sub: "a", ttl_s: 31 * 86_400 }]) {
      expect((await produce("/v1/revocations", body)).status, JSON.stringify(body)).toBe(400);
    }
  });
});

describe("sockets per user", () => {
  it("caps one user's sockets on one channel (MAX_SOCKETS_PER_CHANNEL, 4 in tests) with 4009, rooms included", async () => {
    const user = await person("Tabs");
    const room = uniqueId("room");
    await produceOk(`/v1/rooms/${room}`, { visibility: "public" }, { method: "PUT" });
    const open = [];
    for (let i = 0; i < 4; i++) open.push((await join(`/v1/ws/room/${room}`, user)).socket);
    expect((await (await connect(`/v1/ws/room/${room}`, { token: user.token })).closed()).code).toBe(4009);
    await hangUpAll(open);
  });

  it("caps one user's sockets across all channels (MAX_SOCKETS_PER_USER, 12 in tests), re-counting before it refuses", async () => {
    const user = await person("Spread");
    const rooms = [];
    for (let i = 0; i < 4; i++) {
      const room = uniqueId("room");
      await produceOk(`/v1/rooms/${room}`, { visibility: "public" }, { method: "PUT" });
      rooms.push(room);
    }
    const open = [];
    for (const room of rooms.slice(0, 3)) for (let i = 0; i < 4; i++) open.push((await join(`/v1/ws/room/${room}`, user)).socket);
    const over = await connect(`/v1/ws/room/${rooms[3]}`, { token: user.token });
    expect(await over.closed()).toMatchObject({ code: 4009 });
    // One tab closes (not the last on its room, so the registry is not told): the next
    // join would be refused by the stale count, and is admitted after the re-count.
    const first = open.shift();
    first?.hangUp();
    await first?.closed();
    const fits = await connect(`/v1/ws/room/${rooms[3]}`, { token: user.token });
    expect((await fits.next()).type).toBe("connected");
    await hangUpAll([...open, fits]);
  });
});
