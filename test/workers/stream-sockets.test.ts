import { evictDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { timerNames } from "./clock";
import { connect, type Frame, mintToken, type TestSocket, UpgradeRefused, uniqueId } from "./helpers";
import { appendTo, createStream, OFFSET, readAll, streamCall } from "./streams";

const START = "0000000000000000_0000000000000000";
const bytes = (...b: number[]) => new Uint8Array(b);

/** A stream under users/<id>/ and a token of that user, who may read it. */
async function userStream(contentType = "text/plain") {
  const user = uniqueId("u");
  const path = `users/${user}/${uniqueId("live")}`;
  await createStream(path, contentType);
  return { path, token: await mintToken(user) };
}

async function watch(path: string, token: string, offset = "-1"): Promise<TestSocket> {
  return connect(`/v1/ws/stream/${path}`, { token, query: { offset } });
}

/** stream:data frames until the socket has reached `offset`, joined whole (partials included). */
async function dataUntil(socket: TestSocket, offset: string): Promise<Frame[]> {
  const frames: Frame[] = [];
  for (;;) {
    const frame = await socket.next("stream:data");
    frames.push(frame);
    if (frame.data.next_offset === offset && !frame.data.partial) return frames;
  }
}

const text = (frames: Frame[]) => frames.map((f) => f.data.data as string).join("");

describe("stream sockets: GET /v1/ws/stream/<path>", () => {
  it("says connected first, then catches up exactly once, then sends live appends from where the catch-up ended", async () => {
    const { path, token } = await userStream();
    for (const part of ["one ", "two ", "three "]) await appendTo(path, part);
    const tail = (await streamCall(path, { method: "HEAD" })).headers.get(OFFSET) as string;
    const socket = await watch(path, token);
    expect(socket.protocol).toBe("dovetail.v1");
    const connected = await socket.next();
    expect(connected.type).toBe("connected");
    expect(connected.data).toMatchObject({ offset: START, next_offset: tail, closed: false, content_type: "text/plain", encoding: "text" });
    const catchUp = await socket.next();
    expect(catchUp.data).toEqual({ offset: START, next_offset: tail, data: "one two three " });

    const live = await appendTo(path, "four");
    const next = await socket.next("stream:data");
    expect(next.data).toEqual({ offset: tail, next_offset: live.headers.get(OFFSET), data: "four" });
    expect(socket.frames.filter((f) => f.type === "stream:data").length).toBe(2);
    socket.hangUp();
  });

  it("coalesces appends that arrive within the window into fewer frames, in stream order", async () => {
    const { path, token } = await userStream();
    const socket = await watch(path, token, "now");
    await socket.next("connected");
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => appendTo(path, `w${i} `)));
    const ends = results.map((r) => r.headers.get(OFFSET) as string).sort();
    const frames = await dataUntil(socket, ends[ends.length - 1] as string);
    expect(frames.length).toBeLessThan(10);
    expect(text(frames)).toBe(new TextDecoder().decode((await readAll(path)).bytes));
    socket.hangUp();
  });

  it("sends JSON-mode messages as messages, and binary as base64 said so", async () => {
    const json = await userStream("application/json");
    await appendTo(json.path, '[{"t":"a"},{"t":"b"}]', {}, "application/json");
    const j = await watch(json.path, json.token);
    expect((await j.next("connected")).data.encoding).toBe("json");
    expect((await j.next("stream:data")).data.data).toEqual([{ t: "a" }, { t: "b" }]);
    await appendTo(json.path, '{"t":"c"}', {}, "application/json");
    expect((await j.next("stream:data")).data.data).toEqual([{ t: "c" }]);

    const bin = await userStream("application/octet-stream");
    await appendTo(bin.path, bytes(0, 255, 128, 10), {}, "application/octet-stream");
    const b = await watch(bin.path, bin.token);
    expect((await b.next("connected")).data.encoding).toBe("base64");
    const frame = await b.next("stream:data");
    expect(frame.data.encoding).toBe("base64");
    expect([...atob(frame.data.data)].map((c) => c.charCodeAt(0))).toEqual([0, 255, 128, 10]);
    j.hangUp();
    b.hangUp();
  });

  it("never splits a UTF-8 character: an append ending mid-character waits for the one completing it", async () => {
    const { path, token } = await userStream();
    const socket = await watch(path, token);
    await socket.next("connected");
    await appendTo(path, bytes(0x68, 0xc3)); // "h" and half of "é"
    await appendTo(path, bytes(0xa9, 0x6c, 0xe2, 0x82)); // the rest of "é", "l", 2/3 of "€"
    const third = await appendTo(path, bytes(0xac, 0x21)); // the rest of "€", "!"
    const frames = await dataUntil(socket, third.headers.get(OFFSET) as string);
    expect(text(frames)).toBe("hél€!");
    expect(text(frames)).not.toContain("\uFFFD");
    // A reader resuming from any frame's end reads whole characters too.
    for (const frame of frames) {
      const resumed = await watch(path, token, frame.data.offset);
      await resumed.next("connected");
      expect(text(await dataUntil(resumed, third.headers.get(OFFSET) as string))).not.toContain("\uFFFD");
      resumed.hangUp();
    }
    socket.hangUp();
  });

  it("keeps its sockets and where each one stands when the stream's object is evicted (hibernation)", async () => {
    const { path, token } = await userStream();
    const socket = await watch(path, token);
    await socket.next("connected");
    const a = await appendTo(path, "before ");
    await dataUntil(socket, a.headers.get(OFFSET) as string);
    await evictDurableObject(env.STREAM_HUB.getByName(path));
    const b = await appendTo(path, "after");
    const next = await socket.next("stream:data");
    expect(next.data).toEqual({ offset: a.headers.get(OFFSET), next_offset: b.headers.get(OFFSET), data: "after" });
    socket.hangUp();
  });

  it("sets no timer for its sockets but the one heartbeat, appends included", async () => {
    const { path, token } = await userStream();
    const stub = env.STREAM_HUB.getByName(path);
    const before = await timerNames(stub);
    const sockets = await Promise.all([1, 2, 3].map(() => watch(path, token)));
    for (const socket of sockets) await socket.next("connected");
    for (let i = 0; i < 5; i++) await appendTo(path, `chunk ${i} `);
    for (const socket of sockets) await socket.next("stream:data");
    expect((await timerNames(stub)).sort()).toEqual([...before, "heartbeat"].sort());
    for (const socket of sockets) socket.hangUp();
  });

  it("resumes from the last next_offset after a drop: nothing lost, nothing twice", async () => {
    const { path, token } = await userStream();
    const first = await watch(path, token);
    await first.next("connected");
    const a = await appendTo(path, "alpha ");
    const seen = await dataUntil(first, a.headers.get(OFFSET) as string);
    first.hangUp();
    await appendTo(path, "beta ");
    const c = await appendTo(path, "gamma");
    const again = await watch(path, token, seen[seen.length - 1]?.data.next_offset);
    expect((await again.next("connected")).data.offset).toBe(a.headers.get(OFFSET));
    const rest = await dataUntil(again, c.headers.get(OFFSET) as string);
    expect(text(seen) + text(rest)).toBe("alpha beta gamma");
    again.hangUp();
  });

  it("keeps every frame at 64 KiB of data or less, splitting one large append into partial frames", async () => {
    const { path, token } = await userStream();
    const big = "é".repeat(100_000); // 200,000 bytes in one append
    const small = "x".repeat(30_000);
    const socket = await watch(path, token, "now");
    await socket.next("connected");
    await appendTo(path, big);
    for (let i = 0; i < 4; i++) await appendTo(path, small);
    const tail = (await streamCall(path, { method: "HEAD" })).headers.get(OFFSET) as string;
    const frames = await dataUntil(socket, tail);
    for (const f of frames) expect(new TextEncoder().encode(f.data.data).byteLength).toBeLessThanOrEqual(65_536);
    const partials = frames.filter((f) => f.data.partial);
    expect(partials.length).toBeGreaterThanOrEqual(3);
    expect(text(frames)).toBe(big + small.repeat(4));
    socket.hangUp();
  });

  it("sends stream:closed once a closed stream is all sent, then closes with 1000", async () => {
    const { path, token } = await userStream();
    const socket = await watch(path, token);
    await socket.next("connected");
    await appendTo(path, "last words");
    const closing = await streamCall(path, { method: "POST", headers: { "Stream-Closed": "true" } });
    expect(closing.status).toBe(204);
    const frames = await socket.take(2);
    expect(frames.map((f) => f.type)).toEqual(["stream:data", "stream:closed"]);
    expect(frames[1]?.data.next_offset).toBe(closing.headers.get(OFFSET));
    expect((await socket.closed()).code).toBe(1000);
    // A socket opened on the closed stream gets it all, then the same end.
    const late = await watch(path, token);
    expect((await late.next()).data.closed).toBe(true);
    expect((await late.next()).data.data).toBe("last words");
    expect((await late.next()).type).toBe("stream:closed");
  });

  it("closes its sockets with 4004 when the stream is deleted", async () => {
    const { path, token } = await userStream();
    const socket = await watch(path, token);
    await socket.next("connected");
    expect((await streamCall(path, { method: "DELETE" })).status).toBe(204);
    expect((await socket.closed()).code).toBe(4004);
  });

  it("follows every socket's rules: token, reader, origin, existing stream, a real offset", async () => {
    const { path, token } = await userStream();
    const closeOf = async (socket: Promise<TestSocket>) => (await (await socket).closed()).code;
    expect(await closeOf(connect(`/v1/ws/stream/${path}`))).toBe(4001);
    expect(await closeOf(watch(path, await mintToken(uniqueId("mallory"))))).toBe(4003);
    expect(await closeOf(watch(`users/${uniqueId("ghost")}/x`, await mintToken("nobody")))).toBe(4003);
    const owner = uniqueId("u");
    expect(await closeOf(watch(`users/${owner}/never-created`, await mintToken(owner)))).toBe(4004);
    expect(await closeOf(watch(path, token, "0000000000000009_0000000000000099"))).toBe(1008);
    await expect(watch(path, token, "yesterday")).rejects.toMatchObject({ status: 400 });
    await expect(connect(`/v1/ws/stream/${path}`, { token, origin: "https://evil.example.net" })).rejects.toBeInstanceOf(UpgradeRefused);
    await expect(connect("/v1/ws/stream/users/x/bad%20segment", { token })).rejects.toMatchObject({ status: 400 });
  });

  it("renews its token in place with an auth frame, for the same user only", async () => {
    const { path, token } = await userStream();
    const socket = await watch(path, token);
    const user = (await socket.next("connected")).data.user.id;
    const renewed = await socket.request({ type: "auth", token: await mintToken(user, { expiresIn: "2h" }) });
    expect(renewed.type).toBe("ack");
    expect(Date.parse(renewed.data.expires_at) - Date.now()).toBeGreaterThan(3_600_000);
    const stranger = await socket.request({ type: "auth", token: await mintToken(uniqueId("mallory")) });
    expect(stranger).toMatchObject({ type: "error", data: { code: "forbidden" } });
    expect((await socket.request({ type: "auth", token: "not-a-jwt" })).data.code).toBe("unauthorized");
    socket.hangUp();
  });

  it("refuses frames other than ping and auth with an error frame, and answers pings", async () => {
    const { path, token } = await userStream();
    const socket = await watch(path, token);
    await socket.next("connected");
    const reply = await socket.request({ type: "cancel" });
    expect(reply).toMatchObject({ type: "error", data: { code: "validation_failed" } });
    socket.send({ type: "ping", n: 1 });
    expect((await socket.next("pong")).type).toBe("pong");
    socket.hangUp();
  });
});
