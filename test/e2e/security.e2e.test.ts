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
    const closed = new Promise<{ closed: number }>((resolve) => bad.ws.once("close", (code) => resolve({ closed: code })));
    const answered = bad.until(() => bad.frames.find((f) => f.type === "error"), "an error frame").then((f) => ({ error: f.data.code }));
    // `ws` sends a Buffer as a text frame when told it is not binary, without checking it.
    bad.ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
    // Either the runtime ends that socket (1007) or the hub gets the frame with the bad
    // bytes replaced and answers that it is not JSON. Both are a clear answer.
    const outcome = await Promise.race([closed, answered]);
    if ("closed" in outcome) expect([1007, 1002]).toContain(outcome.closed);
    else expect(outcome.error).toBe("validation_failed");

    await hub.produce(`/v1/jobs/${id}/events`, { progress: 42 });
    await good.until(() => good.logged().find((f) => f.data?.progress === 42), "the next event on the neighbour");
    good.ws.close();
  });
});
