// Stream sockets (GET /v1/ws/stream/<path>) in session control, driven like a backend and
// a browser would: the disconnect route and revocations close them, they count towards
// the per-channel and per-user caps, and they put the user online in presence.
import { describe, expect, it } from "vitest";
import { connect, mintToken, produceOk, type TestSocket, uniqueId } from "./helpers";
import { eventually, hangUpAll } from "./people";
import { createStream } from "./streams";

/** A stream under users/<user>/, which that user may read. */
async function streamOf(user: string): Promise<string> {
  const path = `users/${user}/${uniqueId("live")}`;
  await createStream(path);
  return path;
}

async function watch(path: string, token: string): Promise<TestSocket> {
  const socket = await connect(`/v1/ws/stream/${path}`, { token, query: { offset: "now" } });
  expect((await socket.next()).type).toBe("connected");
  return socket;
}

/** The close code of an upgrade that is refused at once. */
async function refusedWith(path: string, token: string): Promise<number> {
  return (await (await connect(`/v1/ws/stream/${path}`, { token, query: { offset: "now" } })).closed()).code;
}

/** A ping answered: the socket is still open. */
async function stillOpen(socket: TestSocket): Promise<void> {
  socket.send({ type: "ping" });
  await socket.next("pong");
  expect(socket.close).toBeUndefined();
}

describe("stream sockets in session control", () => {
  it("lists a user online only through a stream socket in presence, and offline once it closes", async () => {
    const user = uniqueId("reader");
    const path = await streamOf(user);
    const socket = await watch(path, await mintToken(user));
    const presence = await produceOk<any>(`/v1/users/${user}/presence`, undefined, { method: "GET" });
    expect(presence).toMatchObject({ online: true, connections: 1, channels: [{ channel: `stream:${path}`, sockets: 1 }] });

    socket.hangUp();
    await socket.closed();
    await eventually(async () => {
      const after = await produceOk<any>(`/v1/users/${user}/presence`, undefined, { method: "GET" });
      // last_seen is written by the stream's report of the last leave, not by a re-count.
      expect(after).toMatchObject({ online: false, connections: 0, channels: [], last_seen: expect.any(String) });
    });
  });

  it("closes a user's stream sockets with 4003 on POST /v1/users/:id/disconnect, and leaves another user's open", async () => {
    const alice = uniqueId("alice");
    const bob = uniqueId("bob");
    const path = await streamOf(alice);
    const a = await watch(path, await mintToken(alice));
    const b = await watch(await streamOf(bob), await mintToken(bob));
    const user = await connect("/v1/ws/user", { token: await mintToken(alice) });
    await user.next("connected");

    const res = await produceOk<any>(`/v1/users/${alice}/disconnect`);
    expect(res.closed).toBe(2);
    expect(res.channels.sort()).toEqual([`stream:${path}`, `user:${alice}`].sort());
    expect(await a.closed()).toMatchObject({ code: 4003, reason: "disconnected" });
    expect(await user.closed()).toMatchObject({ code: 4003 });
    await stillOpen(b);
    // Each hub reports its last leave: the user is offline.
    await eventually(async () => {
      expect(await produceOk<any>(`/v1/users/${alice}/presence`, undefined, { method: "GET" })).toMatchObject({
        online: false,
        channels: [],
        last_seen: expect.any(String),
      });
    });
    // A kick, not a ban: the same user watches again.
    const again = await watch(path, await mintToken(alice));
    await hangUpAll([again, b]);
  });

  it("revokes by jti only that token's stream sockets (4001), then by sub all of them (4003) and refuses new upgrades", async () => {
    const user = uniqueId("alice");
    const path = await streamOf(user);
    const revoked = await mintToken(user, { claims: { jti: "stream-tok-1" } });
    const kept = await mintToken(user, { claims: { jti: "stream-tok-2" } });
    const first = await watch(path, revoked);
    const second = await watch(path, kept);
    const elsewhere = await watch(await streamOf(user), kept);

    const byJti = await produceOk<any>("/v1/revocations", { sub: user, jti: "stream-tok-1", ttl_s: 3600 });
    expect(byJti.closed).toBe(1);
    expect(await first.closed()).toMatchObject({ code: 4001, reason: "token revoked" });
    await stillOpen(second);
    expect(await refusedWith(path, revoked)).toBe(4001);

    const bySub = await produceOk<any>("/v1/revocations", { sub: user, ttl_s: 600 });
    expect(bySub.closed).toBe(2);
    expect(await second.closed()).toMatchObject({ code: 4003, reason: "user revoked" });
    expect(await elsewhere.closed()).toMatchObject({ code: 4003, reason: "user revoked" });
    expect(await refusedWith(path, await mintToken(user))).toBe(4003);
  });

  it("caps one user's sockets on one stream (MAX_SOCKETS_PER_CHANNEL, 4 in tests) with 4009; another user is not counted", async () => {
    const user = uniqueId("tabs");
    const token = await mintToken(user);
    // Dovetail-Readers "*": any signed-in user may read, so two users share the stream.
    const shared = `shared/${uniqueId("live")}`;
    await createStream(shared, "text/plain", { "Dovetail-Readers": "*" });
    const open: TestSocket[] = [];
    for (let i = 0; i < 4; i++) open.push(await watch(shared, token));
    expect(await refusedWith(shared, token)).toBe(4009);
    open.push(await watch(shared, await mintToken(uniqueId("other"))));
    // A tab that leaves makes room for the next.
    const tab = open.shift() as TestSocket;
    tab.hangUp();
    await tab.closed();
    open.push(await watch(shared, token));
    await hangUpAll(open);
  });

  it("counts stream sockets towards MAX_SOCKETS_PER_USER (12 in tests), re-counting the stream before it refuses", async () => {
    const user = uniqueId("spread");
    const token = await mintToken(user);
    const open: TestSocket[] = [];
    for (let s = 0; s < 3; s++) {
      const path = await streamOf(user);
      for (let i = 0; i < 4; i++) open.push(await watch(path, token));
    }
    expect((await (await connect("/v1/ws/user", { token })).closed()).code).toBe(4009);
    // Not the last on its stream, so the registry is not told: the re-count asks the stream.
    const tab = open.shift() as TestSocket;
    tab.hangUp();
    await tab.closed();
    const fits = await connect("/v1/ws/user", { token });
    expect((await fits.next()).type).toBe("connected");
    await hangUpAll([...open, fits]);
  });
});
