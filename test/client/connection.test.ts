// The client's reconnect, resume and close-code policy, against an in-process fake server.
import { beforeEach, describe, expect, it, vi } from "vitest";
import {
  backoffCeiling,
  backoffDelay,
  type ClientOptions,
  createClient,
  DovetailError,
  type StatusChange,
} from "../../packages/client/src/index";
import { FakeSocket, FakeTimers } from "./fakes";

let timers: FakeTimers;

function client(options: Partial<ClientOptions> = {}) {
  return createClient({
    url: "https://hub.test",
    token: "t0",
    WebSocket: FakeSocket,
    timers,
    random: () => 0.5,
    now: () => timers.now,
    pingIntervalMs: 20_000,
    pongTimeoutMs: 10_000,
    lifecycle: false,
    ...options,
  });
}

/** Token fetches and socket creation are async: wait (bounded) for the nth socket. */
async function socketNumber(n: number): Promise<FakeSocket> {
  await vi.waitFor(() => expect(FakeSocket.instances.length).toBe(n), { timeout: 1_000, interval: 1 });
  return FakeSocket.instances[n - 1] as FakeSocket;
}

function statuses(channel: { on(type: "status", fn: (s: StatusChange) => void): unknown }): StatusChange[] {
  const seen: StatusChange[] = [];
  channel.on("status", (s) => seen.push(s));
  return seen;
}

beforeEach(() => {
  timers = new FakeTimers();
  FakeSocket.reset();
});

describe("backoff", () => {
  it("draws full-jitter delays below base * 2^attempt, never above the cap", () => {
    const options = { baseMs: 500, maxMs: 30_000 };
    expect([0, 1, 2, 3, 6, 7, 50].map((n) => backoffCeiling(n, options))).toEqual([500, 1000, 2000, 4000, 30_000, 30_000, 30_000]);
    for (let attempt = 0; attempt < 20; attempt++) {
      expect(backoffDelay(attempt, options, () => 0)).toBe(0);
      const high = backoffDelay(attempt, options, () => 0.999_999_9);
      expect(high).toBeLessThan(backoffCeiling(attempt, options));
      expect(high).toBeGreaterThanOrEqual(backoffCeiling(attempt, options) - 1);
    }
  });

  it("waits longer after each failed try, within the bounds, and starts over once connected", async () => {
    const c = client({ random: () => 0.999, backoff: { baseMs: 100, maxMs: 1_000 } });
    const job = c.job("j1");
    const seen = statuses(job);
    for (let n = 1; n <= 6; n++) {
      (await socketNumber(n)).serverClose(1006);
      const delay = seen.at(-1)?.delayMs ?? -1;
      expect(seen.at(-1)).toMatchObject({ status: "reconnecting", code: 1006, attempt: n });
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThan(Math.min(1_000, 100 * 2 ** (n - 1)));
      expect(timers.pending()).toContain(delay);
      timers.advance(delay);
    }
    expect(seen.map((s) => s.delayMs).filter((d) => d !== undefined)).toEqual([99, 199, 399, 799, 999, 999]);
    (await socketNumber(7)).accept();
    expect(job.status).toBe("open");
    FakeSocket.last().serverClose(1001, "deploy");
    expect(seen.at(-1)).toMatchObject({ status: "reconnecting", attempt: 1, delayMs: 99 });
    c.close();
  });
});

describe("resume", () => {
  it("reconnects with since/epoch, keeps state when resumed, and never delivers a seq twice", async () => {
    const c = client();
    const job = c.job("j1");
    const seqs: number[] = [];
    job.on("*", (frame) => seqs.push(frame.seq ?? -1));
    const first = await socketNumber(1);
    expect(first.url).toMatch(/^wss:\/\/hub\.test\/v1\/ws\/job\/j1\?client=[0-9a-f]{32}$/);
    expect(first.protocols).toEqual(["dovetail.v1", "bearer.t0"]);
    first.accept({ epoch: "E1", seq: 4, snapshot: { id: "j1", progress: 40 } });
    expect(job.state).toMatchObject({ progress: 40 });
    first.push("job:update", { id: "j1", progress: 50 }, 5);
    first.push("job:update", { id: "j1", progress: 50 }, 5); // a duplicate
    first.serverClose(1006);
    timers.advance(timers.pending()[0] ?? 0);

    const second = await socketNumber(2);
    expect(second.query.get("since")).toBe("5");
    expect(second.query.get("client")).toBe(first.query.get("client")); // the same client across reconnects
    expect(second.query.get("epoch")).toBe("E1");
    const resets = vi.fn();
    job.on("reset", resets);
    second.accept({ epoch: "E1", seq: 7, resumed: true });
    second.push("job:update", { id: "j1", progress: 50 }, 5); // replay overlapping what we had
    second.push("job:update", { id: "j1", progress: 60 }, 6);
    second.push("job:update", { id: "j1", progress: 70 }, 7);
    second.push("job:update", { id: "j1", progress: 80 }, 8);
    expect(seqs).toEqual([5, 6, 7, 8]);
    expect(job.state).toMatchObject({ progress: 80 });
    expect(resets).not.toHaveBeenCalled();
    c.close();
  });

  it("rebuilds from the snapshot and says so when the hub cannot resume", async () => {
    const c = client();
    const job = c.job("j1");
    const first = await socketNumber(1);
    first.accept({ epoch: "E1", seq: 3, snapshot: { id: "j1", progress: 30 } });
    first.serverClose(1006);
    timers.advance(timers.pending()[0] ?? 0);
    const second = await socketNumber(2);
    const resets = vi.fn();
    job.on("reset", resets);
    second.accept({ epoch: "E2", seq: 90, resumed: false, snapshot: { id: "j1", progress: 95 } });
    expect(resets).toHaveBeenCalledOnce();
    expect(job.state).toMatchObject({ progress: 95 });
    const seqs: number[] = [];
    job.on("*", (f) => seqs.push(f.seq ?? -1));
    second.push("job:update", { id: "j1", progress: 96 }, 91);
    expect(seqs).toEqual([91]);
    c.close();
  });

  it("treats a gap in seq as a lost connection and resumes from the last seq seen", async () => {
    const c = client();
    const job = c.job("j1");
    const first = await socketNumber(1);
    first.accept({ epoch: "E1", seq: 3 });
    const seen: number[] = [];
    job.on("*", (f) => seen.push(f.seq ?? -1));
    first.push("job:update", { id: "j1" }, 5);
    expect(seen).toEqual([]);
    expect(first.closedByClient).toBeDefined();
    expect(job.status).toBe("reconnecting");
    timers.advance(timers.pending()[0] ?? 0);
    expect((await socketNumber(2)).query.get("since")).toBe("3");
    c.close();
  });
  it("takes a skip frame's seq without delivering it, so the event after it is no gap", async () => {
    const c = client();
    const job = c.job("j1");
    const first = await socketNumber(1);
    first.accept({ epoch: "E1", seq: 3 });
    const seen: string[] = [];
    job.on("*", (f) => seen.push(`${f.type}@${f.seq ?? "-"}`));
    first.push("skip", { seq: 4 });
    first.push("job:update", { id: "j1" }, 5);
    first.push("skip", { seq: 5 }); // repeated: ignored like a repeated seq
    expect(seen).toEqual(["job:update@5"]);
    expect(first.closedByClient).toBeUndefined();
    first.push("skip", { seq: 7 }); // one event missed before it: a gap, resumed as usual
    expect(first.closedByClient).toBeDefined();
    c.close();
  });
});

describe("close codes", () => {
  it("fetches a new token after 4001 and reconnects at once", async () => {
    const tokens = ["expired", "fresh"];
    const fetchToken = vi.fn(async () => tokens.shift() ?? "none");
    const c = client({ token: fetchToken });
    const job = c.job("j1");
    const first = await socketNumber(1);
    expect(first.token).toBe("expired");
    first.serverClose(4001, "token expired");
    const second = await socketNumber(2);
    expect(second.token).toBe("fresh");
    expect(fetchToken).toHaveBeenCalledTimes(2);
    second.accept();
    expect(job.status).toBe("open");
    c.close();
  });

  it("shares one token refresh between channels and backs off on a second 4001 in a row", async () => {
    let n = 0;
    const fetchToken = vi.fn(async () => `tok${++n}`);
    const c = client({ token: fetchToken });
    const a = c.job("a");
    await socketNumber(1);
    const b = c.job("b");
    await socketNumber(2);
    FakeSocket.instances[0]?.serverClose(4001);
    FakeSocket.instances[1]?.serverClose(4001);
    await socketNumber(4);
    expect(fetchToken).toHaveBeenCalledTimes(2);
    expect(FakeSocket.instances.slice(2).map((s) => s.token)).toEqual(["tok2", "tok2"]);
    const seen = statuses(a);
    FakeSocket.instances[2]?.serverClose(4001);
    expect(seen.at(-1)).toMatchObject({ status: "reconnecting", code: 4001 });
    expect(seen.at(-1)?.delayMs).toBeGreaterThan(0);
    expect(FakeSocket.instances).toHaveLength(4); // a waits; b's socket is untouched
    expect(FakeSocket.instances[3]?.closedByClient).toBeUndefined();
    expect(b.status).toBe("reconnecting");
    c.close();
  });

  it("stops for good on 4001 with a fixed token, on 4003 and on 4004", async () => {
    for (const code of [4001, 4003, 4004]) {
      FakeSocket.reset();
      const c = client();
      const job = c.job("j1");
      const seen = statuses(job);
      (await socketNumber(1)).serverClose(code, "no");
      expect(seen.at(-1)).toMatchObject({ status: "closed", code });
      expect(timers.pending().filter((ms) => ms < 20_000)).toEqual([]);
      timers.advance(120_000);
      expect(FakeSocket.instances).toHaveLength(1);
      await expect(job.send("cancel")).rejects.toMatchObject({ code: "closed" });
      c.close();
    }
  });

  it("backs off at least rateLimitedMinMs on 4008", async () => {
    const c = client({ rateLimitedMinMs: 7_000, random: () => 0 });
    const job = c.job("j1");
    const seen = statuses(job);
    (await socketNumber(1)).serverClose(4008, "slow down");
    expect(seen.at(-1)).toMatchObject({ status: "reconnecting", code: 4008, delayMs: 7_000 });
    timers.advance(6_999);
    expect(FakeSocket.instances).toHaveLength(1);
    timers.advance(1);
    await socketNumber(2);
    c.close();
  });
});

describe("liveness", () => {
  it("pings on an interval and reconnects when neither pong nor heartbeat arrives", async () => {
    const c = client();
    const job = c.job("j1");
    const first = await socketNumber(1);
    first.accept();
    timers.advance(20_000);
    expect(first.sent).toContain('{"type":"ping"}');
    first.push("pong", undefined);
    timers.advance(20_000); // second ping, answered by a heartbeat this time
    first.push("heartbeat", {});
    timers.advance(29_999);
    expect(job.status).toBe("open");
    timers.advance(1); // 30 s of silence: 20 s interval + 10 s pong timeout
    expect(job.status).toBe("reconnecting");
    expect(first.closedByClient).toBeDefined();
    timers.advance(timers.pending()[0] ?? 0);
    await socketNumber(2);
    c.close();
  });

  it("measures the round-trip time of its pings: client.rtt, channel.rtt and the next status event carry it", async () => {
    const c = client();
    const job = c.job("j1");
    const seen = statuses(job);
    const socket = await socketNumber(1);
    socket.accept();
    expect(c.rtt).toBeUndefined();
    // A ping goes out at once on open, the exact text the hub answers without waking.
    expect(socket.sent).toEqual(['{"type":"ping"}']);
    timers.advance(42);
    socket.push("pong", undefined);
    expect(c.rtt).toBe(42);
    expect(job.rtt).toBe(42);
    // A measurement is not a status change: no event, and the next change carries it.
    expect(seen.filter((s) => s.status === "open")).toHaveLength(1);

    timers.advance(20_000 - 42); // the interval's ping
    expect(socket.sent.filter((f) => f === '{"type":"ping"}')).toHaveLength(2);
    job.wake("tab visible"); // another ping while one is out: the first pong still answers the first
    timers.advance(7);
    socket.push("pong", undefined);
    expect(c.rtt).toBe(7);
    socket.push("pong", undefined); // the woken ping's pong: no timestamp left to match, ignored
    expect(c.rtt).toBe(7);

    socket.serverClose(1006);
    expect(seen.at(-1)).toMatchObject({ status: "reconnecting", rttMs: 7 });
    c.close();
  });

  it("skips the backoff when woken (online / tab visible)", async () => {
    const c = client({ random: () => 0.99, backoff: { baseMs: 60_000, maxMs: 60_000 } });
    const job = c.job("j1");
    (await socketNumber(1)).serverClose(1006);
    expect(job.status).toBe("reconnecting");
    job.wake("back online");
    await socketNumber(2);
    c.close();
  });
});

describe("send", () => {
  it("resolves on the ack and rejects on the error for its ref; queues while connecting", async () => {
    const c = client();
    const room = c.room("r1");
    const sending = room.message("hello");
    const socket = await socketNumber(1);
    socket.accept();
    const [frame] = socket.sentFrames();
    expect(frame).toMatchObject({ type: "message", text: "hello" });
    socket.push("ack", { ref: frame?.ref, id: "m1", seq: 1 });
    await expect(sending).resolves.toMatchObject({ id: "m1", seq: 1 });

    const failing = room.message("x".repeat(10));
    const second = socket.sentFrames()[1];
    socket.push("error", { ref: second?.ref, code: "validation_failed", message: "too long" });
    const err = await failing.catch((e) => e);
    expect(err).toBeInstanceOf(DovetailError);
    expect(err).toMatchObject({ code: "validation_failed", message: "too long" });
    c.close();
  });

  it("rejects on timeout while connected", async () => {
    const c = client({ sendTimeoutMs: 1_000 });
    const job = c.job("j1");
    const socket = await socketNumber(1);
    socket.accept();
    const late = job.cancel();
    timers.advance(1_000);
    await expect(late).rejects.toMatchObject({ code: "timeout" });
    c.close();
  });
});

describe("the outbound queue", () => {
  it("keeps sends made while away in order, and re-sends an unanswered one after a drop with its ref", async () => {
    const c = client({ backoff: { baseMs: 1_000, maxMs: 1_000 } });
    const room = c.room("r1");
    const counts: number[] = [];
    room.on("queue", ({ queued }) => counts.push(queued));
    const first = await socketNumber(1);
    first.accept();
    const inFlight = room.message("one");
    const [sent] = first.sentFrames();
    first.serverClose(1006); // dropped before the ack
    const whileAway = [room.message("two"), room.message("three")];
    expect(room.queued).toBe(3);
    expect(counts.at(-1)).toBe(3);

    timers.advance(1_000);
    const second = await socketNumber(2);
    expect(second.sentFrames()).toEqual([]); // nothing goes out before the resume
    second.accept({ resumed: true });
    const resent = second.sentFrames();
    expect(resent.map((f) => f.text)).toEqual(["one", "two", "three"]);
    expect(resent[0]?.ref).toBe(sent?.ref);
    expect(room.queued).toBe(0);
    for (const [i, f] of resent.entries()) second.push("ack", { ref: f.ref, id: `m${i}`, seq: i + 1 });
    await expect(Promise.all([inFlight, ...whileAway])).resolves.toHaveLength(3);
    c.close();
  });

  it("refuses a send past the count bound, and drops one older than the age bound", async () => {
    const c = client({ queue: { max: 2, maxAgeMs: 5_000 } });
    const room = c.room("r1");
    await socketNumber(1); // still connecting
    const kept = room.message("a");
    const aged = room.message("b");
    await expect(room.message("c")).rejects.toMatchObject({ name: "DovetailError", code: "queue_full" });
    timers.advance(5_000);
    await expect(kept).rejects.toMatchObject({ code: "queue_expired" });
    await expect(aged).rejects.toMatchObject({ code: "queue_expired" });
    expect(room.queued).toBe(0);
    c.close();
  });

  it("rejects what waits with the reason when the hub closes the channel for good", async () => {
    for (const [code, error] of [
      [4003, "forbidden"],
      [4004, "not_found"],
    ] as const) {
      FakeSocket.reset();
      const c = client();
      const room = c.room("r1");
      const socket = await socketNumber(1);
      const waiting = room.message("hello");
      socket.serverClose(code, "no");
      await expect(waiting).rejects.toMatchObject({ code: error });
      await expect(room.message("after")).rejects.toMatchObject({ code: "closed" });
      c.close();
    }
  });
});

describe("channel state", () => {
  it("room: presence once per user, typing that expires, messages without duplicates", async () => {
    const c = client();
    const room = c.room("r1");
    const socket = await socketNumber(1);
    socket.accept({ user: { id: "alice" }, snapshot: { id: "r1", visibility: "public", online: [{ id: "alice" }] } });
    socket.push("presence:join", { user: { id: "bob", name: "Bob" } });
    socket.push("presence:join", { user: { id: "bob", name: "Bob" } });
    expect(room.presence.map((u) => u.id)).toEqual(["alice", "bob"]);
    socket.push("typing", { user: { id: "bob", name: "Bob" }, typing: true, expires_in_ms: 5_000 });
    socket.push("typing", { user: { id: "alice" }, typing: true, expires_in_ms: 5_000 }); // our own: not shown
    expect(room.state.typing).toEqual([{ id: "bob", name: "Bob" }]);
    timers.advance(5_000);
    expect(room.state.typing).toEqual([]);
    const message = { id: "m1", from: "bob", text: "hi", ts: "t" };
    socket.push("message", message, 1);
    expect(room.state.messages).toEqual([{ ...message, seq: 1 }]);
    socket.push("presence:leave", { user: { id: "bob" } });
    expect(room.presence.map((u) => u.id)).toEqual(["alice"]);
    c.close();
  });

  it("user: unread notifications from the snapshot and events; read ones drop out", async () => {
    const c = client();
    const user = c.user();
    const socket = await socketNumber(1);
    expect(socket.url).toMatch(/^wss:\/\/hub\.test\/v1\/ws\/user\?client=/);
    const n1 = { id: "n1", kind: "k", created_at: "t", read: false };
    socket.accept({ snapshot: { unread: [n1], unread_count: 1 } });
    socket.push("notification", { ...n1, id: "n2" }, 1);
    expect(user.state.unread_count).toBe(2);
    const acking = user.ack(["n1", "n2"]);
    const frame = socket.sentFrames()[0];
    expect(frame).toMatchObject({ type: "ack", ids: ["n1", "n2"] });
    socket.push("ack", { ref: frame?.ref });
    await acking;
    socket.push("notification:read", { ids: ["n1", "n2"] }, 2);
    expect(user.state).toEqual({ unread: [], unread_count: 0, retained: {} });
    c.close();
  });

  it("user: read_all and the hub's unread_count, retained values from the snapshot and events", async () => {
    const c = client();
    const user = c.user();
    const socket = await socketNumber(1);
    const n = (id: string) => ({ id, kind: "k", created_at: "t", read: false });
    const plan = { type: "plan:changed", data: { plan: "free" }, seq: 1, ts: "t1" };
    socket.accept({ seq: 1, snapshot: { unread: [n("n1"), n("n2")], unread_count: 60, retained: { "plan:changed": plan } } });
    expect(user.state.retained).toEqual({ "plan:changed": plan });
    const reading = user.readAll();
    expect(socket.sentFrames()[0]).toMatchObject({ type: "read_all" });
    socket.push("notification:read", { ids: ["n1", "n2"], all: true, unread_count: 0 }, 2);
    expect(user.state).toMatchObject({ unread: [], unread_count: 0 });
    socket.push("ack", { ref: socket.sentFrames()[0]?.ref, ids: ["n1", "n2"], unread_count: 0 });
    await reading;
    socket.onmessage?.({
      data: JSON.stringify({
        type: "plan:changed",
        channel: "user:alice",
        seq: 3,
        ts: "t3",
        data: { plan: "pro" },
        retain_key: "plan:changed",
      }),
    });
    expect(user.state.retained["plan:changed"]).toEqual({ type: "plan:changed", data: { plan: "pro" }, seq: 3, ts: "t3" });
    c.close();
  });

  it("room: read receipts, retained values, and presence refreshed from the snapshot on resume", async () => {
    const c = client({ backoff: { baseMs: 1, maxMs: 1 } });
    const room = c.room("r1");
    const first = await socketNumber(1);
    const likes = { type: "like:updated", data: { likes: 3 }, seq: 4, ts: "t4" };
    first.accept({
      epoch: "E1",
      seq: 4,
      snapshot: {
        id: "r1",
        online: [{ id: "alice" }, { id: "bob" }],
        messages: [],
        retained: { likes },
        reads: [{ user: { id: "bob" }, up_to: 2 }],
      },
    });
    expect(room.state.retained.likes?.data).toEqual({ likes: 3 });
    expect(room.state.reads).toEqual({ bob: { user: { id: "bob" }, up_to: 2 } });
    first.push("read", { user: { id: "bob" }, up_to: 4 });
    expect(room.state.reads.bob?.up_to).toBe(4);
    first.serverClose(1006);
    timers.advance(1);
    const second = await socketNumber(2);
    // Bob left and Carol read while we were away: neither is replayed, the snapshot says so.
    second.accept({
      epoch: "E1",
      seq: 4,
      resumed: true,
      snapshot: { online: [{ id: "alice" }], reads: [{ user: { id: "carol" }, up_to: 4 }] },
    });
    expect(room.presence.map((u) => u.id)).toEqual(["alice"]);
    expect(Object.keys(room.state.reads)).toEqual(["carol"]);
    second.onmessage?.({
      data: JSON.stringify({ type: "like:updated", channel: "room:r1", seq: 5, ts: "t5", data: { likes: 4 }, retain_key: "likes" }),
    });
    expect(room.state.retained.likes).toEqual({ type: "like:updated", data: { likes: 4 }, seq: 5, ts: "t5" });
    const reading = room.read(5);
    expect(second.sentFrames()[0]).toMatchObject({ type: "read", up_to: 5 });
    second.push("ack", { ref: second.sentFrames()[0]?.ref, up_to: 5 });
    await expect(reading).resolves.toMatchObject({ up_to: 5 });
    c.close();
  });
});
