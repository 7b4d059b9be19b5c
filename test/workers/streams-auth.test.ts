import { describe, expect, it } from "vitest";
import { createJob, mintToken, produceOk, uniqueId } from "./helpers";
import { appendTo, createStream, OFFSET, readStream, streamCall, streamPath } from "./streams";

const expiredToken = (sub: string) => mintToken(sub, { expiresIn: Math.floor(Date.now() / 1000) - 60 });

async function errorCode(res: Response): Promise<string> {
  return ((await res.json()) as { error: { code: string } }).error.code;
}

/** GET, HEAD and a long-poll answered at once (data is there): the three ways a reader asks. */
async function readStatuses(path: string, token: string): Promise<number[]> {
  const get = await readStream(path, {}, { token });
  const head = await streamCall(path, { method: "HEAD", token });
  const poll = await readStream(path, { offset: "-1", live: "long-poll" }, { token });
  return [get.status, head.status, poll.status];
}

describe("who may read a stream", () => {
  it("jobs/<id>/...: the producer, the job's owner and its viewers; not a stranger, an expired token or no token", async () => {
    const owner = uniqueId("owner");
    const viewer = uniqueId("viewer");
    const job = await createJob(owner, { viewers: [viewer] });
    const path = `jobs/${job}/output`;
    await createStream(path, "text/plain", {}, "partial code");

    const producerRead = await readStream(path);
    expect(await producerRead.text()).toBe("partial code");
    expect(await readStatuses(path, await mintToken(owner))).toEqual([200, 200, 200]);
    expect(await readStatuses(path, await mintToken(viewer))).toEqual([200, 200, 200]);
    const stranger = await readStream(path, {}, { token: await mintToken(uniqueId("stranger")) });
    expect([stranger.status, await errorCode(stranger)]).toEqual([403, "forbidden"]);
    const expired = await readStream(path, {}, { token: await expiredToken(owner) });
    expect([expired.status, await errorCode(expired)]).toEqual([401, "unauthorized"]);
    expect(expired.headers.get("WWW-Authenticate")).toContain("invalid_token");
    expect((await readStream(path, {}, { token: "" })).status).toBe(401);
    // A job that does not exist is refused like a forbidden one: no probing.
    expect((await readStream(`jobs/${uniqueId("nojob")}/output`, {}, { token: await mintToken(owner) })).status).toBe(403);
  });

  it("a job's owner follows the output live, with long-poll and with SSE", async () => {
    const owner = uniqueId("owner");
    const path = `jobs/${await createJob(owner)}/output`;
    const tail = (await createStream(path)).headers.get(OFFSET) as string;
    const token = await mintToken(owner);

    const poll = readStream(path, { offset: tail, live: "long-poll" }, { token });
    const sse = await readStream(path, { offset: tail, live: "sse" }, { token });
    expect(sse.status).toBe(200);
    expect((await appendTo(path, "first tokens")).status).toBe(204);
    expect(await (await poll).text()).toBe("first tokens");
    const reader = (sse.body as ReadableStream<Uint8Array>).getReader();
    let text = "";
    while (!text.includes("first tokens")) text += new TextDecoder().decode((await reader.read()).value);
    await reader.cancel();
  });

  it("users/<id>/...: that user only", async () => {
    const alice = uniqueId("alice");
    const path = `users/${alice}/drafts/1`;
    await createStream(path, "application/json", {}, '{"draft":1}');
    expect(await readStatuses(path, await mintToken(alice))).toEqual([200, 200, 200]);
    expect((await readStream(path, {}, { token: await mintToken(uniqueId("bob")) })).status).toBe(403);
  });

  it("rooms/<id>/...: members, a matching rooms claim, anyone in a public room; no one else", async () => {
    const room = `team-${uniqueId("r")}`;
    const member = uniqueId("member");
    await produceOk(`/v1/rooms/${room}`, { visibility: "private", members: [member] }, { method: "PUT" });
    const path = `rooms/${room}/transcript`;
    await createStream(path, "text/plain", {}, "hello room");

    expect((await readStream(path, {}, { token: await mintToken(member) })).status).toBe(200);
    expect((await readStream(path, {}, { token: await mintToken(uniqueId("claim"), { rooms: ["team-*"] }) })).status).toBe(200);
    expect((await readStream(path, {}, { token: await mintToken(uniqueId("outsider")) })).status).toBe(403);

    await produceOk(`/v1/rooms/${room}`, { visibility: "public" }, { method: "PUT" });
    expect((await readStream(path, {}, { token: await mintToken(uniqueId("anyone")) })).status).toBe(200);
  });

  it("any other path: producers only, unless its creator granted readers with Dovetail-Readers", async () => {
    const alice = uniqueId("alice");
    const closed = streamPath("private");
    await createStream(closed, "text/plain", {}, "secret");
    expect((await readStream(closed, {}, { token: await mintToken(alice) })).status).toBe(403);
    // An unknown stream answers the same 403: a client learns nothing about what exists.
    expect((await readStream(streamPath("unknown"), {}, { token: await mintToken(alice) })).status).toBe(403);

    const listed = streamPath("listed");
    await createStream(listed, "text/plain", { "Dovetail-Readers": `${alice}, someone-else` }, "for alice");
    expect(await readStatuses(listed, await mintToken(alice))).toEqual([200, 200, 200]);
    expect((await readStream(listed, {}, { token: await mintToken(uniqueId("bob")) })).status).toBe(403);

    const open = streamPath("open");
    await createStream(open, "text/plain", { "Dovetail-Readers": "*" }, "for everyone signed in");
    expect((await readStream(open, {}, { token: await mintToken(uniqueId("carol")) })).status).toBe(200);
    expect((await readStream(open, {}, { token: "" })).status).toBe(401);

    // The grant is part of the stream's configuration, and meaningless on channel paths.
    expect((await streamCall(listed, { method: "PUT", headers: { "Content-Type": "text/plain", "Dovetail-Readers": "*" } })).status).toBe(
      409,
    );
    const onJob = await streamCall(`jobs/${uniqueId("j")}/out`, { method: "PUT", headers: { "Dovetail-Readers": "*" } });
    expect(onJob.status).toBe(400);
  });

  it("a client never writes, even to a stream it may read", async () => {
    const owner = uniqueId("owner");
    const path = `jobs/${await createJob(owner)}/output`;
    await createStream(path, "text/plain", {}, "kept");
    const token = await mintToken(owner);
    for (const init of [
      { method: "POST", headers: { "Content-Type": "text/plain" }, body: "injected" },
      { method: "PUT", headers: { "Content-Type": "text/plain" } },
      { method: "DELETE" },
    ]) {
      const res = await streamCall(path, { ...init, token });
      expect([init.method, res.status, await errorCode(res)]).toEqual([init.method, 403, "forbidden"]);
    }
    expect(await (await readStream(path)).text()).toBe("kept");
  });

  it("browsers: the preflight allows Authorization, answers expose Stream-* headers, other origins are refused", async () => {
    const path = `users/${uniqueId("u")}/feed`;
    const preflight = await streamCall(path, {
      method: "OPTIONS",
      token: "",
      headers: {
        Origin: "https://app.example.com",
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization",
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("Access-Control-Allow-Origin")).toBe("https://app.example.com");
    expect(preflight.headers.get("Access-Control-Allow-Headers")).toContain("Authorization");

    await createStream(path, "text/plain", {}, "x");
    const read = await readStream(path, {}, { headers: { Origin: "https://app.example.com" } });
    expect(read.status).toBe(200);
    expect(read.headers.get("Access-Control-Expose-Headers")).toContain("Stream-Next-Offset");
    expect(read.headers.get("X-Content-Type-Options")).toBe("nosniff");
    const evil = await readStream(path, {}, { headers: { Origin: "https://evil.example.net" } });
    expect([evil.status, await errorCode(evil)]).toEqual([403, "forbidden"]);
    expect(evil.headers.get("X-Content-Type-Options")).toBe("nosniff");
  });
});
