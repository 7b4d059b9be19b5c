// What only a raw client can send: a text frame whose bytes are not UTF-8.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RecordingSocket } from "./client-socket";
import { type RunningHub, startHub } from "./harness";

let hub: RunningHub;
beforeAll(async () => {
  hub = await startHub();
});
afterAll(async () => {
  await hub?.stop();
});

describe("a text frame with invalid UTF-8", () => {
  it("costs only the socket that sent it; its neighbour keeps receiving", async () => {
    const id = `utf8-${Date.now()}`;
    expect((await hub.produce("/v1/jobs", { id, owner: "alice" })).status).toBe(201);
    const token = await hub.token("alice");
    const open = () => new RecordingSocket((r) => hub.wsUrl(`/v1/ws/job/${id}?${r}`), ["dovetail.v1", `bearer.${token}`]);
    const bad = open();
    const good = open();
    await bad.open();
    await good.open();
    const closed = new Promise<number>((resolve) => bad.ws.once("close", (code) => resolve(code)));
    // `ws` sends a Buffer as a text frame when told it is not binary, without checking it.
    bad.ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
    const code = await closed;
    expect([1007, 1002, 1011]).toContain(code); // the runtime refuses the frame and ends that socket

    await hub.produce(`/v1/jobs/${id}/events`, { progress: 42 });
    await good.until(() => good.logged().find((f) => f.data?.progress === 42), "the next event on the neighbour");
    good.ws.close();
  });
});
