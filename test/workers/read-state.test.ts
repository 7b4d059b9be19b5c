// Read state: marking a user's notifications read (a `read_all` frame, the producer's
// POST .../notifications/read) and read receipts in rooms (`read {up_to}`).
import { runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { installClock, timerNames } from "./clock";
import { call, produce, produceOk, uniqueId } from "./helpers";
import { count, hangUpAll, join, type Person, person, roomSentinel, userSentinel } from "./people";

async function notifyThree(user: Person): Promise<string[]> {
  const ids: string[] = [];
  for (const title of ["one", "two", "three"]) {
    const created = await produceOk<any>(`/v1/users/${user.id}/notifications`, { kind: "demo", title });
    ids.push(created.notification.id);
  }
  return ids;
}

describe("marking notifications read", () => {
  it("read_all clears every unread notification on every device, with the new count", async () => {
    const user = await person("Nia");
    const phone = (await join("/v1/ws/user", user)).socket;
    const laptop = (await join("/v1/ws/user", user)).socket;
    const ids = await notifyThree(user);

    const ack = await phone.request({ type: "read_all" });
    expect(ack.type).toBe("ack");
    expect(ack.data).toMatchObject({ ids, unread_count: 0, seq: expect.any(Number) });
    for (const device of [phone, laptop]) {
      const read = await device.next("notification:read");
      expect(read.data).toEqual({ ids, all: true, unread_count: 0 });
      expect(read.seq).toBe(ack.data.seq);
    }
    const again = await laptop.request({ type: "read_all" });
    expect(again.data).toEqual({ ref: again.data.ref, ids: [], unread_count: 0 });
    await userSentinel(user.id, [phone, laptop]);
    expect(count(phone, "notification:read") + count(laptop, "notification:read")).toBe(2);

    const later = await join("/v1/ws/user", user);
    expect(later.connected.data.snapshot).toMatchObject({ unread: [], unread_count: 0 });
    await hangUpAll([phone, laptop, later.socket]);
  });

  it("ack {ids} now carries the unread count that is left", async () => {
    const user = await person("Omar");
    const tab = (await join("/v1/ws/user", user)).socket;
    const ids = await notifyThree(user);
    const ack = await tab.request({ type: "ack", ids: [ids[0], "no-such-id"] });
    expect(ack.data).toMatchObject({ ids: [ids[0]], unread_count: 2 });
    expect((await tab.next("notification:read")).data).toEqual({ ids: [ids[0]], unread_count: 2 });
    await hangUpAll([tab]);
  });

  it("lets a producer mark some or all read over HTTP, and every device hears of it", async () => {
    const user = await person("Pia");
    const tab = (await join("/v1/ws/user", user)).socket;
    const ids = await notifyThree(user);

    const some = await produceOk<any>(`/v1/users/${user.id}/notifications/read`, { ids: [ids[1]] });
    expect(some).toMatchObject({ ids: [ids[1]], unread_count: 2 });
    expect((await tab.next("notification:read")).data).toEqual({ ids: [ids[1]], unread_count: 2 });

    const all = await produceOk<any>(`/v1/users/${user.id}/notifications/read`, { all: true });
    expect(all).toMatchObject({ ids: [ids[0], ids[2]], unread_count: 0, seq: some.seq + 1 });
    expect((await tab.next("notification:read")).data).toEqual({ ids: [ids[0], ids[2]], all: true, unread_count: 0 });
    const inbox = await call("/v1/me/notifications?unread=true", { headers: { Authorization: `Bearer ${user.token}` } });
    expect(await inbox.json()).toEqual({ notifications: [], unread_count: 0 });

    const nobody = await produceOk<any>(`/v1/users/${uniqueId("ghost")}/notifications/read`, { all: true });
    expect(nobody).toEqual({ ids: [], unread_count: 0 });
    await hangUpAll([tab]);
  });

  it("refuses bad bodies and non-producers", async () => {
    const user = await person("Quinn");
    for (const body of [{}, { ids: [] }, { all: false }, { ids: ["a"], all: true }, { ids: ["bad id"] }, { everything: true }]) {
      const res = await produce(`/v1/users/${user.id}/notifications/read`, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect((await res.json<any>()).error.code).toBe("validation_failed");
    }
    const asUser = await call(`/v1/users/${user.id}/notifications/read`, {
      method: "POST",
      headers: { Authorization: `Bearer ${user.token}`, "Content-Type": "application/json" },
      body: JSON.stringify({ all: true }),
    });
    expect(asUser.status).toBe(401);
  });
});

describe("read receipts in a room", () => {
  async function roomWith(...people: Person[]): Promise<string> {
    const id = uniqueId("chat");
    await produceOk(`/v1/rooms/${id}`, { visibility: "private", members: people.map((p) => p.id) }, { method: "PUT" });
    return id;
  }

  it("tells everyone how far a user read, at most once a second, and keeps it for the snapshot", async () => {
    const alice = await person("Alice");
    const bob = await person("Bob");
    const room = await roomWith(alice, bob);
    const stub = env.ROOM_HUB.getByName(room);
    const clock = await installClock([stub]);
    const a = (await join(`/v1/ws/room/${room}`, alice)).socket;
    const b = (await join(`/v1/ws/room/${room}`, bob)).socket;
    const seqs: number[] = [];
    for (const text of ["one", "two", "three"]) seqs.push((await a.request({ type: "message", text })).data.seq);

    const first = await b.request({ type: "read", up_to: seqs[0] });
    expect(first.data).toMatchObject({ up_to: seqs[0] });
    for (const socket of [a, b]) {
      const read = await socket.next("read");
      expect(read.data).toEqual({ user: { id: bob.id, name: "Bob" }, up_to: seqs[0] });
      expect(read.seq).toBeUndefined();
    }
    // Two more within the same second: stored at once, heard once, with the latest value.
    clock.advance(200);
    await b.request({ type: "read", up_to: seqs[1] });
    expect((await b.request({ type: "read", up_to: seqs[2] })).data.up_to).toBe(seqs[2]);
    await roomSentinel(room, [a]);
    expect(count(a, "read")).toBe(1);
    expect(await timerNames(stub)).toContain("reads");

    clock.advance(800);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect((await a.next("read")).data).toEqual({ user: { id: bob.id, name: "Bob" }, up_to: seqs[2] });
    await roomSentinel(room, [a]);
    expect(count(a, "read")).toBe(2);

    const later = await join(`/v1/ws/room/${room}`, alice);
    expect(later.connected.data.snapshot.reads).toEqual([{ user: { id: bob.id, name: "Bob" }, up_to: seqs[2] }]);
    await hangUpAll([a, b, later.socket]);
  });

  it("never moves a receipt backwards, and refuses a seq the room has not reached", async () => {
    const alice = await person("Alice");
    const room = await roomWith(alice);
    const a = (await join(`/v1/ws/room/${room}`, alice)).socket;
    const { data } = await a.request({ type: "message", text: "hi" });
    await a.request({ type: "read", up_to: data.seq });
    const back = await a.request({ type: "read", up_to: 0 });
    expect(back.data.up_to).toBe(data.seq);
    for (const frame of [
      { type: "read", up_to: data.seq + 5 },
      { type: "read", up_to: -1 },
      { type: "read", up_to: "1" },
      { type: "read" },
    ]) {
      const reply = await a.request(frame);
      expect(reply.type, JSON.stringify(frame)).toBe("error");
      expect(reply.data.code).toBe("validation_failed");
    }
    await hangUpAll([a]);
  });
});
