import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { UserHub } from "../../src/hubs/user-hub";
import { call, connect, produce, produceOk } from "./helpers";
import { count, eventually, hangUpAll, join, person, roomSentinel, userSentinel } from "./people";

function inbox(token: string, query = "") {
  return call(`/v1/me/notifications${query}`, { headers: { Authorization: `Bearer ${token}` } }).then((r) => r.json<any>());
}

describe("a like on a post", () => {
  it("notifies both of the post owner's devices, updates viewers of the post's room, and nobody else", async () => {
    const owner = await person("Olivia");
    const liker = await person("Liam");
    const viewer = await person("Vera");
    const bystander = await person("Ben");
    const post = `post-${owner.id}`;
    await produceOk(`/v1/rooms/${post}`, { visibility: "public" }, { method: "PUT" });

    const phone = (await join("/v1/ws/user", owner)).socket;
    const laptop = (await join("/v1/ws/user", owner)).socket;
    const inRoom = (await join(`/v1/ws/room/${post}`, viewer)).socket;
    const likerInRoom = (await join(`/v1/ws/room/${post}`, liker)).socket;
    const elsewhere = (await join("/v1/ws/user", bystander)).socket;
    await produceOk(`/v1/rooms/post-${bystander.id}`, { visibility: "public" }, { method: "PUT" });
    const otherRoom = (await join(`/v1/ws/room/post-${bystander.id}`, bystander)).socket;

    const created = await produceOk<any>(`/v1/users/${owner.id}/notifications`, {
      kind: "like",
      title: "Liam liked your post",
      data: { post, by: liker.id },
    });
    const liked = await produceOk<{ seq: number }>(`/v1/rooms/${post}/events`, {
      type: "like:updated",
      data: { post, likes: 1 },
      exclude_user: liker.id,
    });

    for (const device of [phone, laptop]) {
      const frame = await device.next("notification");
      expect(frame.data).toEqual({ ...created.notification, read: false });
      expect(frame.data).toMatchObject({ kind: "like", title: "Liam liked your post", data: { by: liker.id } });
    }
    expect((await inRoom.next("like:updated")).data).toEqual({ post, likes: 1 });

    // Nothing for the liker (excluded), the bystander, or the other room.
    await roomSentinel(post, [likerInRoom, inRoom]);
    await userSentinel(bystander.id, [elsewhere]);
    await roomSentinel(`post-${bystander.id}`, [otherRoom]);
    expect(count(likerInRoom, "like:updated")).toBe(0);
    // In its place, the liker's socket got a skip for that seq: no gap, nothing to show.
    expect(likerInRoom.frames.filter((f) => f.type === "skip").map((f) => [f.seq, f.data])).toEqual([[undefined, { seq: liked.seq }]]);
    expect(count(elsewhere, "notification") + count(elsewhere, "like:updated")).toBe(0);
    expect(count(otherRoom, "like:updated")).toBe(0);
    expect(count(inRoom, "notification")).toBe(0);
    await hangUpAll([phone, laptop, inRoom, likerInRoom, elsewhere, otherRoom]);
  });
});

describe("the notification inbox", () => {
  it("keeps notifications sent while offline unread for the snapshot; an ack on one device tells the other", async () => {
    const user = await person("Una");
    const ids: string[] = [];
    for (const title of ["first", "second", "third"]) {
      ids.push((await produceOk<any>(`/v1/users/${user.id}/notifications`, { kind: "comment", title })).notification.id);
    }
    const { socket: phone, connected } = await join("/v1/ws/user", user);
    expect(connected.data.snapshot.unread_count).toBe(3);
    expect(connected.data.snapshot.unread.map((n: any) => n.title)).toEqual(["third", "second", "first"]);
    expect(connected.data.snapshot.unread.every((n: any) => n.read === false)).toBe(true);
    const { socket: laptop } = await join("/v1/ws/user", user);

    const reply = await phone.request({ type: "ack", ids: [ids[0], ids[1], "no-such-id"] });
    expect(reply.type).toBe("ack");
    expect(reply.data.ids).toEqual([ids[0], ids[1]]);
    const read = await laptop.next("notification:read");
    expect(read.data).toEqual({ ids: [ids[0], ids[1]], unread_count: 1 });
    expect(read.seq).toBe(reply.data.seq);

    const listed = await inbox(user.token, "?unread=true");
    expect(listed.unread_count).toBe(1);
    expect(listed.notifications.map((n: any) => n.id)).toEqual([ids[2]]);
    const all = await inbox(user.token);
    expect(all.notifications.map((n: any) => [n.id, n.read])).toEqual([
      [ids[2], false],
      [ids[1], true],
      [ids[0], true],
    ]);

    // Acking what is already read changes nothing and logs nothing.
    const again = await laptop.request({ type: "ack", ids: [ids[0]] });
    expect(again.data).toMatchObject({ ids: [] });
    expect(again.data.seq).toBeUndefined();
    await hangUpAll([phone, laptop]);
  });

  it("delivers a notification with the same id once", async () => {
    const user = await person("Ida");
    const { socket } = await join("/v1/ws/user", user);
    const first = await produce(`/v1/users/${user.id}/notifications`, { id: "n-1", kind: "follow" });
    const second = await produce(`/v1/users/${user.id}/notifications`, { id: "n-1", kind: "follow" });
    expect([first.status, second.status]).toEqual([201, 200]);
    expect((await second.json<any>()).duplicate).toBe(true);
    await userSentinel(user.id, [socket]);
    expect(count(socket, "notification")).toBe(1);
    await hangUpAll([socket]);
  });

  it("is bounded by count (INBOX_MAX=5 in tests), dropping read ones first", async () => {
    const user = await person("Max");
    const first = (await produceOk<any>(`/v1/users/${user.id}/notifications`, { kind: "k", title: "0" })).notification.id;
    const { socket } = await join("/v1/ws/user", user);
    await socket.request({ type: "ack", ids: [first] });
    for (let i = 1; i <= 5; i++) await produceOk(`/v1/users/${user.id}/notifications`, { kind: "k", title: String(i) });
    const listed = await inbox(user.token);
    expect(listed.notifications.map((n: any) => n.title)).toEqual(["5", "4", "3", "2", "1"]);
    await produceOk(`/v1/users/${user.id}/notifications`, { kind: "k", title: "6" });
    expect((await inbox(user.token)).notifications.map((n: any) => n.title)).toEqual(["6", "5", "4", "3", "2"]);
    await hangUpAll([socket]);
  });

  it("is bounded by age (INBOX_TTL_DAYS, 30 by default)", async () => {
    const user = await person("Tess");
    await produceOk(`/v1/users/${user.id}/notifications`, { kind: "k", title: "old" });
    expect((await inbox(user.token)).unread_count).toBe(1);
    await runInDurableObject(env.USER_HUB.getByName(user.id), (hub: UserHub) => {
      hub.now = () => Date.now() + 31 * 86_400_000;
    });
    expect(await inbox(user.token)).toEqual({ notifications: [], unread_count: 0 });
    const { connected, socket } = await join("/v1/ws/user", user);
    expect(connected.data.snapshot).toEqual({ unread: [], unread_count: 0, retained: {} });
    await hangUpAll([socket]);
  });

  it("lists only the signed-in user's own inbox, and needs a user token", async () => {
    const user = await person("Own");
    await produceOk(`/v1/users/${user.id}/notifications`, { kind: "k" });
    const other = await person("Other");
    expect((await inbox(other.token)).unread_count).toBe(0);
    expect((await call("/v1/me/notifications")).status).toBe(401);
    expect((await call("/v1/me/notifications?limit=0", { headers: { Authorization: `Bearer ${user.token}` } })).status).toBe(400);
  });

  it("refuses a bad ack without harming the socket", async () => {
    const user = await person("Ack");
    const { socket } = await join("/v1/ws/user", user);
    expect((await socket.request({ type: "ack", ids: [] })).data.code).toBe("validation_failed");
    expect((await socket.request({ type: "ack", ids: "x" })).data.code).toBe("validation_failed");
    expect((await socket.request({ type: "message", text: "hi" })).data.code).toBe("validation_failed");
    await produceOk(`/v1/users/${user.id}/notifications`, { kind: "still-works" });
    expect((await socket.next("notification")).data.kind).toBe("still-works");
    await hangUpAll([socket]);
  });
});

describe("product events to a user", () => {
  it("reach every socket of the user, once per event_id", async () => {
    const user = await person("Pat");
    const a = (await join("/v1/ws/user", user)).socket;
    const b = (await join("/v1/ws/user", user)).socket;
    const first = await produceOk<any>(`/v1/users/${user.id}/events`, { type: "campaign:launched", data: { id: 123 }, event_id: "e1" });
    const retry = await produceOk<any>(`/v1/users/${user.id}/events`, { type: "campaign:launched", data: { id: 123 }, event_id: "e1" });
    expect(retry).toEqual({ seq: first.seq, duplicate: true });
    for (const s of [a, b]) expect(await s.next("campaign:launched")).toMatchObject({ seq: first.seq, data: { id: 123 } });
    await userSentinel(user.id, [a, b]);
    expect(count(a, "campaign:launched")).toBe(1);
    await hangUpAll([a, b]);
  });

  it("refuses reserved and malformed types", async () => {
    const user = await person("Res");
    for (const type of [
      "message",
      "typing",
      "notification",
      "notification:read",
      "presence:join",
      "job:update",
      "batch:x",
      "connected",
      "Like",
      "1up",
      "",
    ]) {
      const res = await produce(`/v1/users/${user.id}/events`, { type, data: {} });
      expect(res.status, type).toBe(400);
    }
    expect((await produce("/v1/users/bad$id/events", { type: "x" })).status).toBe(400);
  });
});

describe("user presence and the socket cap", () => {
  it("reports online, connections and last_seen", async () => {
    const user = await person("Pia");
    const presence = () => produceOk<any>(`/v1/users/${user.id}/presence`, undefined, { method: "GET" });
    expect(await presence()).toEqual({ user: user.id, online: false, connections: 0, last_seen: null, channels: [] });
    const a = (await join("/v1/ws/user", user)).socket;
    const b = (await join("/v1/ws/user", user)).socket;
    expect(await presence()).toMatchObject({ online: true, connections: 2 });
    a.hangUp();
    await eventually(async () => expect(await presence()).toMatchObject({ online: true, connections: 1 }));
    b.hangUp();
    const after = await eventually(async () => {
      const p = await presence();
      expect(p).toMatchObject({ online: false, connections: 0 });
      return p;
    });
    expect(Date.parse(after.last_seen)).toBeGreaterThan(Date.now() - 60_000);
  });

  it("closes the socket over MAX_SOCKETS_PER_CHANNEL (4 in tests) with 4009 and keeps the others", async () => {
    const user = await person("Cap");
    const open = [];
    for (let i = 0; i < 4; i++) open.push((await join("/v1/ws/user", user)).socket);
    const extra = await connect("/v1/ws/user", { token: user.token });
    expect((await extra.closed()).code).toBe(4009);
    await produceOk(`/v1/users/${user.id}/notifications`, { kind: "k" });
    for (const s of open) expect((await s.next("notification")).data.kind).toBe("k");
    await hangUpAll(open);
  });
});
