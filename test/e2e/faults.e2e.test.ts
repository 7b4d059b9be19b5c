import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RecordingSocket } from "./client-socket";
import { type RunningHub, startHub } from "./harness";

describe("a reconnect storm", () => {
  let hub: RunningHub;
  beforeAll(async () => {
    hub = await startHub();
  });
  afterAll(async () => {
    await hub?.stop();
  });

  it("drops 500 sockets at once while the producer posts; every client ends with every event exactly once, in order", async () => {
    const id = `storm-${Date.now()}`;
    expect((await hub.produce("/v1/jobs", { id, owner: "alice" })).status).toBe(201);
    const token = await hub.token("alice");
    const clients = Array.from(
      { length: 500 },
      () => new RecordingSocket((resume) => hub.wsUrl(`/v1/ws/job/${id}?${resume}`), ["dovetail.v1", `bearer.${token}`]),
    );
    for (let i = 0; i < clients.length; i += 50) await Promise.all(clients.slice(i, i + 50).map((c) => c.open()));

    const TOTAL = 60;
    let posted = 0;
    const producer = (async () => {
      while (posted < TOTAL) {
        const res = await hub.produce(`/v1/jobs/${id}/events`, { status: "running", message: `tick ${posted + 1}` });
        expect(res.status).toBe(200);
        posted++;
        await new Promise((r) => setTimeout(r, 20));
      }
    })();

    await clients[0]!.until(() => (clients[0]!.lastSeq >= 15 ? true : undefined), "a few live events before the storm");
    for (const c of clients) c.ws.terminate(); // all at once, no close handshake
    await Promise.all(clients.map((c) => c.open())); // everyone back at once, resuming
    await producer;

    const last = TOTAL + 1; // job:created is seq 1
    await Promise.all(clients.map((c) => c.until(() => (c.lastSeq >= last ? true : undefined), `seq ${last}`, 30_000)));
    for (const c of clients) {
      const seqs = c.logged().map((f) => f.seq);
      const trace = JSON.stringify(c.frames.map((f) => [f.type, f.seq ?? f.data?.seq]));
      expect(seqs, trace).toEqual(Array.from({ length: last }, (_, i) => i + 1));
    }
    expect(clients.every((c) => c.frames.filter((f) => f.type === "connected").at(-1).data.resumed)).toBe(true);
    for (const c of clients) c.ws.close();
  }, 120_000);
});

describe("a restart on persisted storage", () => {
  const dir = mkdtempSync(join(tmpdir(), "dovetail-persist-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("keeps job state, the event log, event_id dedupe, the inbox, timers and resume across a worker restart", async () => {
    const id = `persist-${Date.now()}`;
    let hub = await startHub({ persistTo: dir });
    let epoch: string;
    try {
      await hub.produce("/v1/jobs", { id, owner: "alice" });
      await hub.produce(`/v1/jobs/${id}/events`, { status: "running", progress: 30, event_id: "p30" });
      // An inbox entry, and a job whose stall watchdog is armed on its alarm.
      await hub.produce(`/v1/users/alice/notifications`, { id: `n-${id}`, kind: "restart", title: "kept across restarts" });
      await hub.produce("/v1/jobs", { id: `${id}-stall`, owner: "alice", stall_timeout_s: 2 });
      await hub.produce(`/v1/jobs/${id}-stall/events`, { status: "running" });
      const before = new RecordingSocket((r) => hub.wsUrl(`/v1/ws/job/${id}?${r}`), ["dovetail.v1", `bearer.${await hub.token("alice")}`]);
      epoch = (await before.open()).data.epoch;
      before.ws.close();
    } finally {
      await hub.stop();
    }

    hub = await startHub({ persistTo: dir });
    try {
      const state = await (await hub.produce(`/v1/jobs/${id}`, undefined, "GET")).json();
      expect(state).toMatchObject({ status: "running", progress: 30, seq: 2 });
      const repeat = await (await hub.produce(`/v1/jobs/${id}/events`, { status: "running", progress: 30, event_id: "p30" })).json();
      expect(repeat).toMatchObject({ duplicate: true, seq: 2 });
      await hub.produce(`/v1/jobs/${id}/events`, { progress: 60 });

      const after = new RecordingSocket((r) => hub.wsUrl(`/v1/ws/job/${id}?${r}`), ["dovetail.v1", `bearer.${await hub.token("alice")}`]);
      after.epoch = epoch;
      after.lastSeq = 1;
      const connected = await after.open();
      expect(connected.data).toMatchObject({ resumed: true, epoch, seq: 3 });
      await after.until(() => (after.lastSeq >= 3 ? true : undefined), "the replay");
      expect(after.logged().map((f) => [f.seq, f.data.progress])).toEqual([
        [2, 30],
        [3, 60],
      ]);
      after.ws.close();

      const inbox = await fetch(new URL("/v1/me/notifications", hub.url), {
        headers: { Authorization: `Bearer ${await hub.token("alice")}` },
      });
      expect(JSON.stringify(await inbox.json())).toContain("kept across restarts");
      // The watchdog set before the restart still fires from the persisted alarm.
      const deadline = Date.now() + 15_000;
      let stalled: any;
      do {
        await new Promise((r) => setTimeout(r, 250));
        stalled = await (await hub.produce(`/v1/jobs/${id}-stall`, undefined, "GET")).json();
      } while (stalled.status !== "failed" && Date.now() < deadline);
      expect(stalled).toMatchObject({ status: "failed", error: { code: "stalled" } });
    } finally {
      await hub.stop();
    }
  }, 60_000);
});
