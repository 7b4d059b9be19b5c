import { evictDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { connect, createJob, mintToken, produceOk, uniqueId } from "./helpers";

async function post(job: string, progress: number) {
  return produceOk<{ seq: number }>(`/v1/jobs/${job}/events`, { status: "running", progress });
}

describe("resume after a drop", () => {
  it("replays exactly the missed events, in order, before any live event", async () => {
    const owner = uniqueId("alice");
    const token = await mintToken(owner);
    const job = await createJob(owner);
    const first = await connect(`/v1/ws/job/${job}`, { token, query: { since: 0 } });
    const { epoch } = (await first.next("connected")).data;
    await post(job, 10);
    await post(job, 20);
    const seen = await first.take(3);
    expect(seen.map((f) => f.seq)).toEqual([1, 2, 3]);
    first.hangUp();
    await first.closed();

    for (let p = 30; p <= 70; p += 10) await post(job, p); // seq 4..8 while away

    const back = await connect(`/v1/ws/job/${job}`, { token, query: { since: 3, epoch } });
    const connected = await back.next();
    expect(connected).toMatchObject({ type: "connected", data: { resumed: true, seq: 8, epoch } });
    await post(job, 80); // live, seq 9
    const frames = await back.take(6);
    expect(frames.map((f) => f.seq)).toEqual([4, 5, 6, 7, 8, 9]);
    expect(frames.map((f) => f.data.progress)).toEqual([30, 40, 50, 60, 70, 80]);
    await post(job, 90);
    expect((await back.next()).seq).toBe(10);
    expect(back.logged().map((f) => f.seq)).toEqual([4, 5, 6, 7, 8, 9, 10]); // nothing twice
    back.hangUp();
  });

  it("answers resumed:false with the snapshot when since is beyond what the log retains", async () => {
    const owner = uniqueId("alice");
    const token = await mintToken(owner);
    const job = await createJob(owner);
    const first = await connect(`/v1/ws/job/${job}`, { token });
    const { epoch } = (await first.next("connected")).data;
    first.hangUp();
    // LOG_RETENTION is 50 in tests: after 60 more events, seq 2 is long gone.
    for (let p = 1; p <= 60; p++) await post(job, p);
    const back = await connect(`/v1/ws/job/${job}`, { token, query: { since: 2, epoch } });
    const connected = await back.next();
    expect(connected.data).toMatchObject({ resumed: false, seq: 61, snapshot: { progress: 60 } });
    await post(job, 61);
    expect((await back.next()).seq).toBe(62); // straight on to live events, no partial replay
    back.hangUp();
  });

  it("answers resumed:false for a seq from the future or a wrong epoch", async () => {
    const owner = uniqueId("alice");
    const token = await mintToken(owner);
    const job = await createJob(owner);
    await post(job, 5);
    const future = await connect(`/v1/ws/job/${job}`, { token, query: { since: 99 } });
    const { epoch } = (await future.next("connected")).data;
    expect((await connect(`/v1/ws/job/${job}`, { token, query: { since: 99, epoch } }).then((s) => s.next())).data.resumed).toBe(false);
    const wrongEpoch = await connect(`/v1/ws/job/${job}`, { token, query: { since: 1, epoch: "0000000000000000" } });
    expect((await wrongEpoch.next()).data).toMatchObject({ resumed: false, snapshot: { progress: 5 } });
    const noEpoch = await connect(`/v1/ws/job/${job}`, { token, query: { since: 1 } });
    expect((await noEpoch.next()).data.resumed).toBe(false);
    for (const s of [future, wrongEpoch, noEpoch]) s.hangUp();
  });

  it("keeps state, log and sockets when the object is evicted between two events", async () => {
    const owner = uniqueId("alice");
    const token = await mintToken(owner);
    const job = await createJob(owner);
    const socket = await connect(`/v1/ws/job/${job}`, { token });
    const { epoch } = (await socket.next("connected")).data;
    await post(job, 25);
    expect((await socket.next("job:update")).data.progress).toBe(25);

    await evictDurableObject(env.JOB_HUB.getByName(job));

    await post(job, 50);
    const after = await socket.next("job:update");
    expect(after).toMatchObject({ seq: 3, data: { progress: 50 } });
    const late = await connect(`/v1/ws/job/${job}`, { token, query: { since: 1, epoch } });
    expect((await late.take(3)).map((f) => f.seq ?? f.type)).toEqual(["connected", 2, 3]);
    socket.hangUp();
    late.hangUp();
  });
});

describe("faults", () => {
  it("loses and repeats nothing when the object is evicted in the middle of a stream of posts", async () => {
    const owner = uniqueId("alice");
    const token = await mintToken(owner);
    const job = await createJob(owner);
    const socket = await connect(`/v1/ws/job/${job}`, { token, query: { since: 0 } });
    await socket.next("connected");
    const posts: Promise<unknown>[] = [];
    for (let i = 1; i <= 40; i++) {
      posts.push(produceOk(`/v1/jobs/${job}/events`, { status: "running", message: `m${i}` }));
      if (i === 20) posts.push(evictDurableObject(env.JOB_HUB.getByName(job)));
    }
    await Promise.all(posts);
    await socket.take(41);
    const seqs = socket.logged().map((f) => f.seq);
    expect(seqs).toEqual(Array.from({ length: 41 }, (_, i) => i + 1));
    const messages = socket
      .logged()
      .slice(1)
      .map((f) => f.data.message);
    expect(new Set(messages).size).toBe(40);
    socket.hangUp();
  });
});
