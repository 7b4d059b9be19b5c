// The client SDK's stream readers against the real Worker on a real port: client.stream(path)
// and client.job(id).output over Node's global WebSocket, a forced drop in the middle, and
// text whose UTF-8 characters are split across appends.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient, type StreamChunk, type StreamReader } from "../../packages/client/src/index";
import { E2E_PRODUCER_KEY } from "./harness";
import { type Hub, recordingSockets, startHub, uniqueId, until } from "./hub";

let hub: Hub;

beforeAll(async () => {
  hub = await startHub();
});

afterAll(async () => {
  await hub?.dispose();
});

function append(path: string, body: BodyInit, contentType = "text/plain"): Promise<Response> {
  return fetch(`${hub.url}/v1/stream/${path}`, {
    method: "POST",
    headers: { Authorization: `Bearer ${E2E_PRODUCER_KEY}`, "Content-Type": contentType },
    body,
  });
}

async function create(path: string, contentType = "text/plain"): Promise<void> {
  const res = await fetch(`${hub.url}/v1/stream/${path}`, {
    method: "PUT",
    headers: { Authorization: `Bearer ${E2E_PRODUCER_KEY}`, "Content-Type": contentType },
  });
  expect(res.status).toBe(201);
}

const waitFor = (_reader: StreamReader, check: () => boolean, what: string) => until(what, check, 10_000);

describe("the SDK's stream readers", () => {
  it("client.stream(path): the text so far and data events, resumed after a drop with nothing lost or twice, split characters whole", async () => {
    const user = uniqueId("reader");
    const path = `users/${user}/story`;
    await create(path);
    await append(path, "Once upon ");
    const sockets = recordingSockets();
    const client = createClient({ url: hub.url, token: await hub.mintToken(user), lifecycle: false, WebSocket: sockets.WebSocket });
    const reader = client.stream(path);
    const chunks: StreamChunk[] = [];
    reader.on("data", (chunk) => chunks.push(chunk));
    await waitFor(reader, () => reader.text === "Once upon ", "the catch-up");

    const encoder = new TextEncoder();
    const rest = encoder.encode("a tíme, ünder the sky €");
    // Appends cut inside characters: "í" and "€" each split across two appends.
    await append(path, rest.slice(0, 3));
    await append(path, rest.slice(3, 12));
    await waitFor(reader, () => reader.text.length >= 12, "live text");
    sockets.opened[0]?.close(4000, "forced drop");
    await append(path, rest.slice(12, rest.length - 1));
    await append(path, rest.slice(rest.length - 1));
    await waitFor(reader, () => reader.text === "Once upon a tíme, ünder the sky €", "the whole text after the resume");
    expect(sockets.opened.length).toBeGreaterThanOrEqual(2);
    expect(new URL(sockets.opened[1]?.url ?? "").searchParams.get("offset")).toMatch(/^\d{16}_\d{16}$/);
    expect(chunks.map((c) => c.text).join("")).toBe(reader.text);
    expect(reader.text).not.toContain("\uFFFD");
    // Each chunk starts where the previous one ended.
    for (const [i, c] of chunks.slice(1).entries()) expect(c.offset).toBe(chunks[i]?.next_offset);
    client.close();
  });

  it("client.job(id).output: a job's JSON output as messages, closed when the job completes", async () => {
    const owner = uniqueId("owner");
    const id = uniqueId("job");
    await hub.produce("/v1/jobs", { id, owner, output: { content_type: "application/json" } });
    const client = createClient({ url: hub.url, token: await hub.mintToken(owner), lifecycle: false });
    const job = client.job(id);
    const output = job.output;
    let closed = false;
    output.on("closed", () => {
      closed = true;
    });
    for (let i = 0; i < 5; i++) await append(`jobs/${id}/output`, JSON.stringify({ token: `t${i}` }), "application/json");
    await waitFor(output, () => output.messages.length === 5, "five messages");
    await hub.produce(`/v1/jobs/${id}/events`, { status: "completed" });
    await waitFor(output, () => closed, "the output to close with the job");
    expect(output.messages).toEqual([0, 1, 2, 3, 4].map((i) => ({ token: `t${i}` })));
    expect(output.closed).toBe(true);
    await until("the job's own channel to see it complete", () => job.state?.status === "completed");
    client.close();
  });
});
