// Who is online: contacts (a producer's PUT, or the token's `watch` claim) hear
// user:online / user:offline on their user channel, debounced so a reload does not flap,
// and may ask GET /v1/presence. The offline delay runs on the hub's alarm, driven here by
// a test clock.
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { installClock, timerNames } from "./clock";
import { call, mintToken, produce, produceOk } from "./helpers";
import { count, eventually, hangUpAll, join, type Person, person, userSentinel } from "./people";

const OFFLINE_DELAY_MS = 10_000;

function setContacts(user: Person, contacts: Person[]) {
  return produceOk<any>(`/v1/users/${user.id}/contacts`, { contacts: contacts.map((c) => c.id) }, { method: "PUT" });
}

/** Waits until `watcher` is registered with `watched`'s hub (registration runs after the join). */
async function registered(watched: Person, watcher: Person, expected = true): Promise<void> {
  await eventually(async () => {
    const rows = await runInDurableObject(env.USER_HUB.getByName(watched.id), (_i, state) =>
      state.storage.sql.exec("SELECT 1 FROM watchers WHERE user_id = ?", watcher.id).toArray(),
    );
    expect(rows.length > 0, `${watcher.id} registered with ${watched.id}`).toBe(expected);
  });
}

function presence(token: string, users: string) {
  return call(`/v1/presence?users=${users}`, { headers: { Authorization: `Bearer ${token}` } });
}

describe("contacts hear when a user comes online and goes offline", () => {
  it("announces online on the first socket and offline only after the delay, with last_seen", async () => {
    const alice = await person("Alice");
    const bob = await person("Bob");
    const clock = await installClock([env.USER_HUB.getByName(bob.id)]);
    expect(await setContacts(alice, [bob])).toEqual({ user: alice.id, contacts: [bob.id] });
    const a = (await join("/v1/ws/user", alice)).socket;
    await registered(bob, alice);

    const bobPhone = (await join("/v1/ws/user", bob)).socket;
    const online = await a.next("user:online");
    expect(online.data).toEqual({ user: { id: bob.id, name: "Bob" }, online: true, last_seen: expect.any(String) });
    expect(online.seq).toBeUndefined();
    const bobLaptop = (await join("/v1/ws/user", bob)).socket; // a second device is no news

    const closedAt = clock.now;
    await hangUpAll([bobPhone, bobLaptop]);
    await eventually(async () => expect(await timerNames(env.USER_HUB.getByName(bob.id))).toContain("offline"));
    await userSentinel(alice.id, [a]);
    expect(count(a, "user:offline")).toBe(0);

    clock.advance(OFFLINE_DELAY_MS);
    expect(await runDurableObjectAlarm(env.USER_HUB.getByName(bob.id))).toBe(true);
    const offline = await a.next("user:offline");
    expect(offline.data).toEqual({ user: { id: bob.id, name: "Bob" }, online: false, last_seen: new Date(closedAt).toISOString() });
    await userSentinel(alice.id, [a]);
    expect(count(a, "user:online")).toBe(1);
    await hangUpAll([a]);
  });

  it("says nothing when a user reloads within the delay", async () => {
    const alice = await person("Alice");
    const bob = await person("Bob");
    const bobHub = env.USER_HUB.getByName(bob.id);
    const clock = await installClock([bobHub]);
    await setContacts(alice, [bob]);
    const a = (await join("/v1/ws/user", alice)).socket;
    await registered(bob, alice);
    const before = (await join("/v1/ws/user", bob)).socket;
    await a.next("user:online");

    await hangUpAll([before]);
    clock.advance(OFFLINE_DELAY_MS - 2_000);
    const after = (await join("/v1/ws/user", bob)).socket; // the reload
    expect(await timerNames(bobHub)).not.toContain("offline");
    clock.advance(OFFLINE_DELAY_MS);
    await userSentinel(alice.id, [a]);
    expect([count(a, "user:online"), count(a, "user:offline")]).toEqual([1, 0]);
    await hangUpAll([a, after]);
  });

  it("reaches a watcher through the token's watch claim, and only while the watcher is online", async () => {
    const bob = await person("Bob");
    const carolId = `carol-${bob.id}`;
    const carol: Person = { id: carolId, name: "Carol", token: await mintToken(carolId, { name: "Carol", claims: { watch: [bob.id] } }) };
    const carolHub = env.USER_HUB.getByName(carol.id);
    const clock = await installClock([carolHub]);
    const c = (await join("/v1/ws/user", carol)).socket;
    await registered(bob, carol);
    const b = (await join("/v1/ws/user", bob)).socket;
    expect((await c.next("user:online")).data.user.id).toBe(bob.id);

    // Carol goes offline: she leaves Bob's watchers and forgets her claim.
    await hangUpAll([c]);
    clock.advance(OFFLINE_DELAY_MS);
    expect(await runDurableObjectAlarm(carolHub)).toBe(true);
    await registered(bob, carol, false);
    await hangUpAll([b]);
  });

  it("follows a producer's changes to the list while the watcher is online", async () => {
    const alice = await person("Alice");
    const bob = await person("Bob");
    const dan = await person("Dan");
    const a = (await join("/v1/ws/user", alice)).socket;
    await setContacts(alice, [bob]);
    await registered(bob, alice);
    await setContacts(alice, [dan]);
    await registered(dan, alice);
    await registered(bob, alice, false);
    const b = (await join("/v1/ws/user", bob)).socket;
    const d = (await join("/v1/ws/user", dan)).socket;
    expect((await a.next("user:online")).data.user.id).toBe(dan.id);
    await userSentinel(alice.id, [a]);
    expect(count(a, "user:online")).toBe(1);
    await hangUpAll([a, b, d]);
  });
});

describe("online means a socket on any channel (the session registry)", () => {
  it("shows a user online to contacts through a room socket alone, and offline once it closes", async () => {
    const alice = await person("Alice");
    const bob = await person("Bob");
    const room = `lobby-${bob.id}`;
    await produceOk(`/v1/rooms/${room}`, { visibility: "public" }, { method: "PUT" });
    const bobHub = env.USER_HUB.getByName(bob.id);
    const clock = await installClock([bobHub]);
    await setContacts(alice, [bob]);
    const a = (await join("/v1/ws/user", alice)).socket;
    await registered(bob, alice);

    const inRoom = (await join(`/v1/ws/room/${room}`, bob)).socket; // Bob never opens his user channel
    const online = await a.next("user:online");
    expect(online.data).toEqual({ user: { id: bob.id, name: "Bob" }, online: true, last_seen: expect.any(String) });
    const asked = await (await presence(alice.token, bob.id)).json<any>();
    expect(asked.users).toEqual([{ user: { id: bob.id, name: "Bob" }, online: true, last_seen: expect.any(String) }]);
    // The same source as the producer's view and the user.online webhook.
    const seen = await produceOk<any>(`/v1/users/${bob.id}/presence`, undefined, { method: "GET" });
    expect(seen).toMatchObject({ online: true, channels: [{ channel: `room:${room}`, sockets: 1 }] });

    const closedAt = clock.now;
    await hangUpAll([inRoom]);
    await eventually(async () => expect(await timerNames(bobHub)).toContain("offline"));
    // A producer asking meanwhile (a re-count that finds no socket) does not put the offline back.
    clock.advance(OFFLINE_DELAY_MS / 2);
    expect(await produceOk<any>(`/v1/users/${bob.id}/presence`, undefined, { method: "GET" })).toMatchObject({ online: false });
    clock.advance(OFFLINE_DELAY_MS / 2);
    expect(await runDurableObjectAlarm(bobHub)).toBe(true);
    const offline = await a.next("user:offline");
    expect(offline.data).toEqual({ user: { id: bob.id, name: "Bob" }, online: false, last_seen: new Date(closedAt).toISOString() });
    await userSentinel(alice.id, [a]);
    expect([count(a, "user:online"), count(a, "user:offline")]).toEqual([1, 1]);
    await hangUpAll([a]);
  });

  it("takes the watch claim of a token used on a room socket", async () => {
    const bob = await person("Bob");
    const carolId = `carol-${bob.id}`;
    const room = `lobby-${bob.id}`;
    const carol: Person = { id: carolId, name: "Carol", token: await mintToken(carolId, { name: "Carol", claims: { watch: [bob.id] } }) };
    await produceOk(`/v1/rooms/${room}`, { visibility: "public" }, { method: "PUT" });
    const c = (await join(`/v1/ws/room/${room}`, carol)).socket;
    await registered(bob, carol);
    await hangUpAll([c]);
  });
});

describe("GET /v1/presence", () => {
  it("answers a user's contacts, in order, with online state and last-seen", async () => {
    const alice = await person("Alice");
    const bob = await person("Bob");
    const eve = await person("Eve");
    const never = await person("Never");
    await installClock([env.USER_HUB.getByName(eve.id)]); // so her offline delay cannot run out mid-test
    await setContacts(alice, [bob, eve, never]);
    const b = (await join("/v1/ws/user", bob)).socket;
    const e = (await join("/v1/ws/user", eve)).socket;
    await hangUpAll([e]);

    const res = await presence(alice.token, `${never.id},${bob.id},${eve.id}`);
    expect(res.status).toBe(200);
    const { users } = await res.json<any>();
    expect(users).toEqual([
      { user: { id: never.id }, online: false, last_seen: null },
      { user: { id: bob.id, name: "Bob" }, online: true, last_seen: expect.any(String) },
      // Eve's offline is still within the delay: contacts still see her online.
      { user: { id: eve.id, name: "Eve" }, online: true, last_seen: expect.any(String) },
    ]);
    await hangUpAll([b]);
  });

  it("keeps online status private and bounded", async () => {
    const alice = await person("Alice");
    const bob = await person("Bob");
    const stranger = await person("Stranger");
    await setContacts(alice, [bob]);
    const refused = await presence(alice.token, `${bob.id},${stranger.id}`);
    expect(refused.status).toBe(403);
    expect((await refused.json<any>()).error).toMatchObject({ code: "forbidden", message: expect.stringContaining(stranger.id) });
    expect((await presence(alice.token, alice.id)).status).toBe(200); // oneself

    const tooMany = Array.from({ length: 101 }, (_, i) => `u${i}`).join(",");
    for (const users of [tooMany, "", "bad%20id", `${bob.id},`]) {
      const res = await presence(alice.token, users);
      expect(res.status, users).toBe(400);
    }
    expect((await call(`/v1/presence?users=${bob.id}`)).status).toBe(401);
    expect((await produce(`/v1/presence?users=${bob.id}`, undefined, { method: "GET" })).status).toBe(401);
  });
});

describe("PUT /v1/users/:id/contacts", () => {
  it("refuses lists that are too long, repeat, include the user, or hold bad ids; and non-producers", async () => {
    const alice = await person("Alice");
    const tooMany = Array.from({ length: 6 }, (_, i) => `c${i}`); // CONTACTS_MAX is 5 in tests
    for (const contacts of [tooMany, ["bob", "bob"], [alice.id], ["bad id"]]) {
      const res = await produce(`/v1/users/${alice.id}/contacts`, { contacts }, { method: "PUT" });
      expect(res.status, JSON.stringify(contacts)).toBe(400);
      expect((await res.json<any>()).error.code).toBe("validation_failed");
    }
    const asUser = await call(`/v1/users/${alice.id}/contacts`, {
      method: "PUT",
      headers: { Authorization: `Bearer ${alice.token}`, "Content-Type": "application/json" },
      body: JSON.stringify({ contacts: [] }),
    });
    expect(asUser.status).toBe(401);
  });
});
