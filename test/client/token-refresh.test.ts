// The client replaces its token on open sockets before it expires (an `auth` frame), so a
// long-lived tab never reconnects for a token; against the in-process fake server.
import { beforeEach, describe, expect, it, vi } from "vitest";
import { createClient } from "../../packages/client/src/index";
import { tokenExpiry } from "../../packages/client/src/tokens";
import { FakeSocket, FakeTimers } from "./fakes";

let timers: FakeTimers;

/** A JWT-shaped token (the client reads only its exp). */
function jwt(expMs: number, tag: string): string {
  const part = (v: unknown) => btoa(JSON.stringify(v)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
  return `${part({ alg: "HS256" })}.${part({ sub: "alice", exp: Math.floor(expMs / 1000), tag })}.sig`;
}

function client(token: () => Promise<string>) {
  return createClient({
    url: "https://hub.test",
    token,
    WebSocket: FakeSocket,
    timers,
    now: () => timers.now,
    random: () => 0.5,
    lifecycle: false,
    pingIntervalMs: 600_000,
  });
}

/** Lets the token function's promise and the frames it leads to settle (real macrotask, no sleep). */
async function flush(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
}

const tagOf = (token: string | undefined) => (token ? JSON.parse(atob(token.split(".")[1] ?? "")).tag : undefined);

beforeEach(() => {
  timers = new FakeTimers();
  timers.now = 1_000_000_000_000;
  FakeSocket.reset();
});

describe("token refresh ahead of expiry", () => {
  it("sends the new token as an auth frame before exp, on the same socket, and keeps doing so", async () => {
    let issued = 0;
    const fetchToken = vi.fn(async () => jwt(timers.now + 120_000, `t${++issued}`));
    const c = client(fetchToken);
    const job = c.job("j1");
    await vi.waitFor(() => expect(FakeSocket.instances.length).toBe(1), { timeout: 1_000, interval: 1 });
    const socket = FakeSocket.last();
    socket.accept();
    expect(job.status).toBe("open");

    // 120 s of life: refreshed a fifth of it (24 s) before exp, not earlier.
    timers.advance(95_000);
    await flush();
    expect(socket.sentFrames().filter((f) => f.type === "auth")).toEqual([]);
    timers.advance(1_000);
    await flush();
    const auth = socket.sentFrames().find((f) => f.type === "auth");
    expect(tagOf(auth?.token)).toBe("t2");
    socket.push("ack", { ref: auth?.ref, expires_at: new Date(tokenExpiry(auth?.token) ?? 0).toISOString() });
    await flush();

    // The next round runs from the new token's exp.
    timers.advance(96_000);
    await flush();
    expect(socket.sentFrames().filter((f) => f.type === "auth")).toHaveLength(2);
    expect(FakeSocket.instances).toHaveLength(1);
    expect(fetchToken).toHaveBeenCalledTimes(3);
    c.close();
  });

  it("does nothing more when the token function hands back the same token; expiry then takes the 4001 path", async () => {
    const same = jwt(timers.now + 60_000, "same");
    const c = client(async () => same);
    c.job("j1");
    await vi.waitFor(() => expect(FakeSocket.instances.length).toBe(1), { timeout: 1_000, interval: 1 });
    FakeSocket.last().accept();
    timers.advance(59_000);
    await flush();
    expect(
      FakeSocket.last()
        .sentFrames()
        .filter((f) => f.type === "auth"),
    ).toEqual([]);
    c.close();
  });

  it("reads exp only from JWT-shaped tokens", () => {
    expect(tokenExpiry(jwt(2_000_000_000_000, "x"))).toBe(2_000_000_000_000);
    expect(tokenExpiry("opaque-token")).toBeUndefined();
    expect(tokenExpiry("a.!!!.c")).toBeUndefined();
  });
});
