// Webhook delivery on a real port: a client emits, a real HTTP receiver gets signed
// webhooks, and goes down, comes back, answers 410, or stays down past the retry window.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateSecret } from "../../src/webhooks/signature";
import { RecordingSocket } from "./client-socket";
import { type RunningHub, startHub } from "./harness";
import { type Receiver, startReceiver } from "./receiver";

const SECRET = generateSecret();
let counter = 0;
const uniqueRoom = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${++counter}`;

function hubVars(receiver: Receiver, retryBaseMs: number): Record<string, string> {
  // DEV_MODE lets the hub post to a receiver on 127.0.0.1 over http.
  return { DEV_MODE: "1", WEBHOOK_URL: receiver.url, WEBHOOK_SECRET: SECRET, WEBHOOK_RETRY_BASE_MS: String(retryBaseMs) };
}

/** A public room, and a socket in it for `user`, ready to emit. */
async function socketInRoom(hub: RunningHub, room: string, user = "alice"): Promise<RecordingSocket> {
  expect((await hub.produce(`/v1/rooms/${room}`, { visibility: "public" }, "PUT")).status).toBe(200);
  const socket = new RecordingSocket(
    (r) => hub.wsUrl(`/v1/ws/room/${room}?${r}`),
    ["dovetail.v1", `bearer.${await hub.token(user, { name: "Alice" })}`],
  );
  await socket.open();
  return socket;
}

/** Sends an emit frame and resolves on its ack or error. */
async function emit(socket: RecordingSocket, event: string, data: unknown, ref: string): Promise<any> {
  socket.ws.send(JSON.stringify({ type: "emit", event, data, ref }));
  return socket.until(
    () => socket.frames.find((f) => (f.type === "ack" || f.type === "error") && f.data.ref === ref),
    `the answer to ${ref}`,
  );
}

describe("client events to the backend", () => {
  let receiver: Receiver;
  let hub: RunningHub;
  beforeAll(async () => {
    receiver = await startReceiver(SECRET);
    hub = await startHub({ vars: hubVars(receiver, 50) });
  });
  afterAll(async () => {
    await hub?.stop();
    await receiver?.close();
  });

  it("delivers an emit as a signed client.event with the user, the channel and the server's time, acked with its webhook id", async () => {
    const room = uniqueRoom("emit");
    const socket = await socketInRoom(hub, room);
    const before = Date.now();
    const ack = await emit(socket, "ai_generation_start", { prompt: "a red fox" }, "e1");
    expect(ack).toMatchObject({ type: "ack", data: { ref: "e1", id: expect.stringMatching(/^msg_[0-9a-f]{32}$/) } });
    const [hook] = await receiver.until(
      "the client.event",
      () => receiver.delivered(`room:${room}`, "client.event").length > 0 && receiver.delivered(`room:${room}`, "client.event"),
    );
    expect(hook!.refusal).toBeNull();
    expect(hook!.id).toBe(ack.data.id);
    expect(hook!.payload).toEqual({
      type: "client.event",
      timestamp: expect.any(String),
      channel: `room:${room}`,
      data: {
        event: "ai_generation_start",
        data: { prompt: "a red fox" },
        user: { id: "alice", name: "Alice" },
        connection_id: expect.any(String),
      },
    });
    expect(Date.parse(hook!.payload.timestamp)).toBeGreaterThanOrEqual(before - 1_000);
    socket.ws.close();
  });

  it("refuses a bad event name, too-deep data and an emit flood with clear errors, and keeps the socket", async () => {
    const room = uniqueRoom("emit-bad");
    const socket = await socketInRoom(hub, room);
    expect((await emit(socket, "Not An Event", {}, "b1")).data).toMatchObject({ code: "validation_failed" });
    expect((await emit(socket, "log_event", { deep: JSON.parse(`${"[".repeat(40)}${"]".repeat(40)}`) }, "b2")).data).toMatchObject({
      code: "validation_failed",
    });
    const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => emit(socket, "log_event", { i }, `f${i}`)));
    const refused = answers.filter((a) => a.type === "error");
    expect(refused.length).toBeGreaterThan(0);
    expect(refused[0].data).toMatchObject({ code: "rate_limited" });
    expect(socket.ws.readyState).toBe(socket.ws.OPEN);
    // Only acked events reach the backend, each once.
    const acked = answers.filter((a) => a.type === "ack").map((a) => a.data.id);
    await receiver.until("every acked emit", () => receiver.delivered(`room:${room}`, "client.event").length >= acked.length);
    expect(receiver.delivered(`room:${room}`, "client.event").map((w) => w.id)).toEqual(acked);
    socket.ws.close();
  });

  it("sends a room's events to the room's own webhook_url when it has one", async () => {
    const own = await startReceiver(SECRET);
    try {
      const room = uniqueRoom("own-url");
      expect((await hub.produce(`/v1/rooms/${room}`, { visibility: "public", webhook_url: own.url }, "PUT")).status).toBe(200);
      const socket = new RecordingSocket((r) => hub.wsUrl(`/v1/ws/room/${room}?${r}`), ["dovetail.v1", `bearer.${await hub.token("bob")}`]);
      await socket.open();
      await emit(socket, "log_event", { n: 1 }, "o1");
      await own.until("the room's own receiver", () => own.delivered(`room:${room}`, "client.event").length === 1);
      expect(own.delivered(`room:${room}`).map((w) => w.payload.type)).toEqual(["room.occupied", "room.member_joined", "client.event"]);
      expect(receiver.received.filter((w) => w.payload?.channel === `room:${room}`)).toEqual([]);
      socket.ws.close();
    } finally {
      await own.close();
    }
  });

  it("retries a receiver that is down for 3 attempts, then delivers every event once, in order per channel", async () => {
    const rooms = [uniqueRoom("order-a"), uniqueRoom("order-b")];
    const channels = new Set(rooms.map((r) => `room:${r}`));
    const attempts = new Map<string, number>();
    receiver.respond = (w) => {
      if (!channels.has(w.payload?.channel) || w.payload.type !== "client.event") return 204;
      const n = (attempts.get(w.payload.channel) ?? 0) + 1;
      attempts.set(w.payload.channel, n);
      return n <= 3 ? 503 : 200;
    };
    try {
      const sockets = await Promise.all(rooms.map((room) => socketInRoom(hub, room)));
      for (let n = 1; n <= 5; n++) {
        for (const socket of sockets) expect((await emit(socket, "step", { n }, `s${n}-${sockets.indexOf(socket)}`)).type).toBe("ack");
      }
      for (const room of rooms) {
        const delivered = await receiver.until(
          `5 events on ${room}`,
          () => receiver.delivered(`room:${room}`, "client.event").length >= 5 && receiver.delivered(`room:${room}`, "client.event"),
        );
        expect(delivered.map((w) => w.payload.data.data.n)).toEqual([1, 2, 3, 4, 5]);
        expect(new Set(delivered.map((w) => w.id)).size).toBe(5);
        const all = receiver.attempts(`room:${room}`);
        expect(all.slice(0, 2).map((w) => w.payload.type)).toEqual(["room.occupied", "room.member_joined"]);
        const tries = receiver.attempts(`room:${room}`, "client.event");
        // The first event took the 3 failures; later ones waited behind it, never sent early.
        expect(tries.map((w) => [w.payload.data.data.n, w.status])).toEqual([
          [1, 503],
          [1, 503],
          [1, 503],
          [1, 200],
          [2, 200],
          [3, 200],
          [4, 200],
          [5, 200],
        ]);
        expect(tries.every((w) => w.refusal === null)).toBe(true);
        // Backoff: each wait at least 50 ms x 4^k less the 20% jitter (a loaded machine only adds to it).
        const gaps = tries.slice(1, 4).map((w, i) => w.at - (tries[i] as { at: number }).at);
        for (const [k, gap] of gaps.entries()) expect(gap).toBeGreaterThanOrEqual(0.8 * 50 * 4 ** k - 5);
      }
      for (const socket of sockets) socket.ws.close();
    } finally {
      receiver.respond = () => 204;
    }
  });

  it("stops at 410 Gone: the channel's webhooks are disabled, its event dead-lettered, and a replay turns them back on", async () => {
    const room = uniqueRoom("gone");
    receiver.respond = (w) => (w.payload?.channel === `room:${room}` && w.payload.type === "client.event" ? 410 : 204);
    try {
      const socket = await socketInRoom(hub, room);
      const { data } = await emit(socket, "log_event", { n: 1 }, "g1");
      const failed = await until(async () => {
        const list = await (await hub.produce(`/v1/webhooks/failed?channel=room:${room}`, undefined, "GET")).json();
        return list.failed.length === 1 && list;
      }, "the dead letter");
      expect(failed.failed[0]).toMatchObject({ id: data.id, type: "client.event", attempts: 1, last_error: "receiver answered 410" });
      expect((await emit(socket, "log_event", { n: 2 }, "g2")).data).toMatchObject({ code: "misconfigured" });

      receiver.respond = () => 204;
      const replay = await hub.produce(`/v1/webhooks/failed/${data.id}/replay`, {});
      expect(replay.status).toBe(202);
      await receiver.until("the replayed event", () => receiver.delivered(`room:${room}`, "client.event").some((w) => w.id === data.id));
      expect((await emit(socket, "log_event", { n: 3 }, "g3")).type).toBe("ack");
      socket.ws.close();
    } finally {
      receiver.respond = () => 204;
    }
  });
});

describe("a job that expires with webhooks still queued", () => {
  let receiver: Receiver;
  let hub: RunningHub;
  beforeAll(async () => {
    receiver = await startReceiver(SECRET);
    receiver.respond = () => 503;
    hub = await startHub({ vars: hubVars(receiver, 60_000) });
  });
  afterAll(async () => {
    await hub?.stop();
    await receiver?.close();
  });

  it("hands them to the dead letters before its storage is deleted, so a replay can still send them", async () => {
    const job = uniqueRoom("expiring");
    expect((await hub.produce("/v1/jobs", { id: job, owner: "alice", ttl_s: 1 })).status).toBe(201);
    const socket = new RecordingSocket((r) => hub.wsUrl(`/v1/ws/job/${job}?${r}`), ["dovetail.v1", `bearer.${await hub.token("alice")}`]);
    await socket.open();
    const { data } = await emit(socket, "ai_generation_start", { prompt: "fox" }, "x1");
    await receiver.until("the first (failed) attempt", () => receiver.received.some((w) => w.id === data.id));
    await hub.produce(`/v1/jobs/${job}/events`, { status: "completed" });
    const failed = await until(async () => {
      const list = await (await hub.produce(`/v1/webhooks/failed?channel=job:${job}`, undefined, "GET")).json();
      return list.failed.length === 1 && list.failed[0];
    }, "the evacuated webhook");
    expect(failed).toMatchObject({ id: data.id, attempts: 1, last_error: expect.stringContaining("before the channel was deleted") });
    expect((await hub.produce(`/v1/jobs/${job}`, undefined, "GET")).status).toBe(404);
    receiver.respond = () => 204;
    expect((await hub.produce(`/v1/webhooks/failed/${data.id}/replay`, {})).status).toBe(202);
    await receiver.until("the replayed webhook", () => receiver.delivered(`job:${job}`).length === 1);
  });
});

describe("a receiver down for the whole retry window", () => {
  let receiver: Receiver;
  let hub: RunningHub;
  beforeAll(async () => {
    receiver = await startReceiver(SECRET);
    receiver.respond = () => 503;
    // 1 ms first delay: the 24 h schedule becomes about 17 s.
    hub = await startHub({ vars: hubVars(receiver, 1) });
  });
  afterAll(async () => {
    await hub?.stop();
    await receiver?.close();
  });

  it("dead-letters events once their window is over (the first after 11 attempts), lists them, and replays them", async () => {
    const room = uniqueRoom("dead");
    const socket = await socketInRoom(hub, room);
    const ids = [(await emit(socket, "log_event", { n: 1 }, "d1")).data.id, (await emit(socket, "log_event", { n: 2 }, "d2")).data.id];
    const list = await until(
      async () => {
        const body = await (await hub.produce(`/v1/webhooks/failed?channel=room:${room}`, undefined, "GET")).json();
        return body.failed.length >= 4 && body;
      },
      "four dead letters",
      40_000,
    );
    // The head of the queue (room.occupied) was retried over its whole window (11 attempts
    // on time, fewer if the machine made one late); the events behind it waited, then had
    // what was left of their own windows (an attempt or a few).
    expect(list.failed.slice(0, 4).map((f: any) => f.type)).toEqual([
      "room.occupied",
      "room.member_joined",
      "client.event",
      "client.event",
    ]);
    expect(list.failed[0].attempts).toBeGreaterThanOrEqual(8);
    for (const behind of list.failed.slice(1, 4)) expect(behind.attempts).toBeGreaterThanOrEqual(1);
    const head = receiver.attempts(`room:${room}`, "room.occupied");
    expect(head).toHaveLength(list.failed[0].attempts);
    expect((head.at(-1)?.at ?? 0) - (head[0]?.at ?? 0)).toBeGreaterThanOrEqual(17_280 * 0.95);
    const letters = list.failed.filter((f: any) => f.type === "client.event");
    expect(letters.map((f: any) => f.id)).toEqual(ids);
    expect(letters[0]).toMatchObject({ channel: `room:${room}`, last_error: "receiver answered 503" });
    expect(letters[0].payload).toMatchObject({ type: "client.event", data: { event: "log_event", data: { n: 1 } } });
    expect(receiver.received.every((w) => w.refusal === null)).toBe(true);

    receiver.respond = () => 204;
    for (const id of ids) expect((await hub.produce(`/v1/webhooks/failed/${id}/replay`, {})).status).toBe(202);
    await receiver.until("both replays", () => receiver.delivered(`room:${room}`, "client.event").length === 2);
    expect(receiver.delivered(`room:${room}`, "client.event").map((w) => w.id)).toEqual(ids);
    const after = await (await hub.produce(`/v1/webhooks/failed?channel=room:${room}`, undefined, "GET")).json();
    expect(after.failed.filter((f: any) => f.type === "client.event")).toEqual([]);
    expect((await hub.produce(`/v1/webhooks/failed/${ids[0]}/replay`, {})).status).toBe(404);
    socket.ws.close();
  }, 60_000);
});

describe("the outbox across a restart", () => {
  const dir = mkdtempSync(join(tmpdir(), "dovetail-outbox-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("keeps queued webhooks through a worker restart and delivers them, in order, from the persisted alarm", async () => {
    const receiver = await startReceiver(SECRET);
    receiver.respond = () => 503;
    const room = uniqueRoom("restart");
    let hub = await startHub({ persistTo: dir, vars: hubVars(receiver, 500) });
    const ids: string[] = [];
    try {
      const socket = await socketInRoom(hub, room);
      for (let n = 1; n <= 3; n++) ids.push((await emit(socket, "log_event", { n }, `r${n}`)).data.id);
      await receiver.until("a first failed attempt", () => receiver.received.length > 0);
      socket.ws.close();
    } finally {
      await hub.stop();
    }
    receiver.respond = () => 204;
    hub = await startHub({ persistTo: dir, vars: hubVars(receiver, 500) });
    try {
      await receiver.until(
        "the three events after the restart",
        () => receiver.delivered(`room:${room}`, "client.event").length === 3,
        20_000,
      );
      expect(receiver.delivered(`room:${room}`, "client.event").map((w) => w.id)).toEqual(ids);
      expect(
        receiver
          .delivered(`room:${room}`)
          .map((w) => w.payload.type)
          .slice(0, 5),
      ).toEqual(["room.occupied", "room.member_joined", "client.event", "client.event", "client.event"]);
    } finally {
      await hub.stop();
      await receiver.close();
    }
  }, 60_000);
});

async function until<T>(check: () => Promise<T | false>, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
