// Event names are checked at compile time: the client's on() takes only the events the
// channel's map in src/protocol/ names (plus the app's own product events), so a typo is
// a type error. `npm run typecheck` compiles this file; the @ts-expect-error lines fail
// it if a misspelt name ever becomes acceptable.
import { beforeEach, describe, expect, it, vi } from "vitest";
import { createClient } from "../../packages/client/src/index";
import type { Notification } from "../../src/protocol";
import { FakeSocket, FakeTimers } from "./fakes";

beforeEach(() => FakeSocket.reset());

function client() {
  return createClient({ url: "https://hub.test", token: "t0", WebSocket: FakeSocket, timers: new FakeTimers(), lifecycle: false });
}

describe("typed events", () => {
  it("delivers the hub's events and the app's declared product events under their types", async () => {
    const c = client();
    const me = c.user<{ "like:updated": { likes: number } }>();
    const notifications: Notification[] = [];
    const likes: number[] = [];
    me.on("notification", (n) => notifications.push(n));
    me.on("like:updated", (data) => likes.push(data.likes));
    // @ts-expect-error: "notificaton" is not an event of the user channel
    me.on("notificaton", () => {});
    // @ts-expect-error: product events the app did not declare are not events either
    me.on("like:updatd", () => {});

    await vi.waitFor(() => expect(FakeSocket.instances).toHaveLength(1), { timeout: 1_000, interval: 1 });
    const socket = FakeSocket.last();
    socket.accept({ snapshot: { unread: [], unread_count: 0 } });
    socket.push("notification", { id: "n1", kind: "like", created_at: new Date(0).toISOString(), read: false }, 1);
    socket.push("like:updated", { likes: 42 }, 2);
    expect(notifications.map((n) => n.id)).toEqual(["n1"]);
    expect(likes).toEqual([42]);
    c.close();
  });

  it("types each kind's channel by its own map", () => {
    const c = client();
    const job = c.job("render-42");
    job.on("job:completed", (view) => view.progress);
    // @ts-expect-error: "job:complete" is not a job event
    job.on("job:complete", () => {});
    const room = c.room("lobby");
    room.on("presence:join", ({ user }) => user.id);
    // @ts-expect-error: a room has no "notification" event
    room.on("notification", () => {});
    c.close();
  });
});
