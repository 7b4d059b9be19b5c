// The client SDK against the real Worker on a real port, over Node's global WebSocket.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ClientOptions, createClient, type JobChannel, type StatusChange } from "../../packages/client/src/index";
import { E2E_PRODUCER_KEY } from "./harness";
import { type Hub, recordingSockets, startHub, uniqueId, until } from "./hub";

let hub: Hub;

beforeAll(async () => {
  hub = await startHub();
});

afterAll(async () => {
  await hub?.dispose();
});

function client(options: Partial<ClientOptions> & Pick<ClientOptions, "token">) {
  return createClient({ url: hub.url, lifecycle: false, ...options });
}

function watch(job: JobChannel) {
  const statuses: StatusChange[] = [];
  const seqs: number[] = [];
  const progress: number[] = [];
  job.on("status", (s) => statuses.push(s));
  job.on("*", (frame) => {
    if (frame.seq !== undefined) seqs.push(frame.seq);
    if (frame.type === "job:update") progress.push((frame.data as { progress: number }).progress);
  });
  return { statuses, seqs, progress };
}

async function createJob(owner: string, extra: Record<string, unknown> = {}): Promise<string> {
  const id = uniqueId("job");
  await hub.produce("/v1/jobs", { id, owner, ...extra });
  return id;
}

const post = (job: string, progress: number) => hub.produce(`/v1/jobs/${job}/events`, { status: "running", progress });

describe("client against a real hub", () => {
  it("resumes after a forced drop, losing and repeating nothing", async () => {
    const owner = uniqueId("alice");
    const token = await hub.mintToken(owner);
    const job = await createJob(owner);
    const sockets = recordingSockets();
    // A long backoff keeps the client away while events are posted; wake() then skips it.
    const c = client({ token, WebSocket: sockets.WebSocket, backoff: { baseMs: 60_000, maxMs: 60_000 }, random: () => 0.5 });
    const channel = c.job(job);
    const seen = watch(channel);
    await until("the channel to open", () => channel.status === "open");
    await post(job, 10);
    await post(job, 20);
    await until("seq 3", () => seen.seqs.includes(3));

    sockets.opened[0]?.close(4000, "forced drop");
    await until("the client to notice the drop", () => channel.status === "reconnecting");
    for (let p = 30; p <= 70; p += 10) await post(job, p); // seq 4..8 while away
    expect(seen.seqs).toEqual([2, 3]);

    const connected: boolean[] = [];
    channel.on("connected", (d) => connected.push(d.resumed));
    channel.wake("test: reconnect now");
    await until("the channel to reopen", () => channel.status === "open");
    await post(job, 80); // live, seq 9
    await until("seq 9", () => seen.seqs.includes(9));
    expect(connected).toEqual([true]);
    expect(sockets.opened).toHaveLength(2);
    expect(new URL(sockets.opened[1]?.url ?? "").searchParams.get("since")).toBe("3");
    expect(seen.seqs).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
    expect(seen.progress).toEqual([10, 20, 30, 40, 50, 60, 70, 80]);
    expect(channel.state).toMatchObject({ status: "running", progress: 80 });
    expect(seen.statuses.map((s) => s.status)).toEqual(["open", "reconnecting", "reconnecting", "open"]);
    c.close();
  });

  it("fetches a new token when the hub closes with 4001, then connects", async () => {
    const owner = uniqueId("alice");
    const job = await createJob(owner);
    const issued: string[] = [];
    const fetchToken = async () => {
      // The first token expired a minute ago (beyond the hub's 5 s clock tolerance).
      const token = await hub.mintToken(owner, { expiresIn: issued.length === 0 ? Math.floor(Date.now() / 1000) - 60 : "10m" });
      issued.push(token);
      return token;
    };
    const c = client({ token: fetchToken });
    const channel = c.job(job);
    const seen = watch(channel);
    await until("the channel to open", () => channel.status === "open");
    expect(issued).toHaveLength(2);
    expect(seen.statuses[0]).toMatchObject({ status: "reconnecting", code: 4001 });
    expect(seen.statuses[0]?.reason).toContain("token expired");
    expect(channel.state).toMatchObject({ id: job, owner });
    c.close();
  });

  it("stops on 4003 (not allowed) and 4004 (no such job, or another user's) without retrying", async () => {
    const job = await createJob(uniqueId("bob"));
    const room = uniqueId("room");
    const put = await fetch(`${hub.url}/v1/rooms/${room}`, {
      method: "PUT",
      headers: { Authorization: `Bearer ${E2E_PRODUCER_KEY}`, "Content-Type": "application/json" },
      body: JSON.stringify({ visibility: "private", members: [uniqueId("bob")] }),
    });
    expect(put.status).toBe(200);
    const alice = uniqueId("alice");
    type Open = (c: ReturnType<typeof client>) => Parameters<typeof watch>[0];
    const cases: [Open, number][] = [
      // Only status and frames are watched, which every channel kind has alike.
      [(c) => c.room(room) as unknown as JobChannel, 4003],
      [(c) => c.job(job), 4004],
      [(c) => c.job(uniqueId("missing")), 4004],
    ];
    for (const [open, code] of cases) {
      const sockets = recordingSockets();
      let tokens = 0;
      const fetchToken = () => {
        tokens++;
        return hub.mintToken(alice);
      };
      const c = client({ token: fetchToken, WebSocket: sockets.WebSocket, backoff: { baseMs: 1, maxMs: 1 } });
      const channel = open(c);
      const seen = watch(channel);
      await until(`a ${code} close`, () => channel.status === "closed");
      expect(seen.statuses).toEqual([expect.objectContaining({ status: "closed", code })]);
      // With a 1 ms backoff a retry would already be under way: a second hub answer proves none was made.
      const probe = await fetch(`${hub.url}/v1/jobs/${job}`, { headers: { Authorization: `Bearer ${await hub.mintToken(alice)}` } });
      expect(probe.status).toBe(404);
      expect(sockets.opened).toHaveLength(1);
      expect(tokens).toBe(1);
      c.close();
    }
  });

  it("settles send() promises on the hub's ack and error", async () => {
    const owner = uniqueId("alice");
    const viewer = uniqueId("carol");
    const job = await createJob(owner, { viewers: [viewer] });
    const c1 = client({ token: await hub.mintToken(owner) });
    const c2 = client({ token: await hub.mintToken(viewer) });
    const asOwner = c1.job(job);
    const asViewer = c2.job(job);
    await until("both channels to open", () => asOwner.status === "open" && asViewer.status === "open");

    await expect(asViewer.cancel()).rejects.toMatchObject({ name: "DovetailError", code: "forbidden" });
    await expect(asOwner.send("explode")).rejects.toMatchObject({ code: "validation_failed" });
    const ack = await asOwner.cancel();
    expect(ack.ref).toMatch(/^r\d+$/);
    await until("the viewer to see cancel_requested", () => asViewer.state?.cancel_requested === true);

    await hub.produce(`/v1/jobs/${job}/events`, { status: "cancelled" });
    await until("the job to be cancelled", () => asOwner.state?.status === "cancelled");
    await expect(asOwner.cancel()).rejects.toMatchObject({ code: "job_finished" });
    c1.close();
    c2.close();
  });
});
