// The React hooks in a real renderer (react-dom in a jsdom document) against a real hub on
// a real port: components mount, re-render on events, share sockets and close them.
import { JSDOM } from "jsdom";
import { createElement, type ReactNode } from "react";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { createClient, type DovetailClient, type JobChannel, type RoomChannel } from "../../packages/client/src/index";
import type * as Hooks from "../../packages/client/src/react";
import { type Hub, recordingSockets, startHub, uniqueId, until } from "../e2e/hub";

// react-dom decides at import whether there is a DOM, so the document comes first. Events
// arrive from the network as they would in a browser, so renders are awaited, not act()ed.
const dom = new JSDOM("<!doctype html><html><body></body></html>");
Object.assign(globalThis, { window: dom.window, document: dom.window.document });
const { createRoot } = await import("react-dom/client");
const { useChannel, usePresence } = (await import("../../packages/client/src/react")) as typeof Hooks;

let hub: Hub;

beforeAll(async () => {
  // Offline at once when the last socket closes, so the test need not wait out the debounce.
  hub = await startHub({ vars: { OFFLINE_DELAY_S: "0" } });
});

afterAll(async () => {
  await hub?.dispose();
});

async function clientFor(user: string, name: string, sockets = recordingSockets(WebSocket)) {
  const client = createClient({ url: hub.url, token: await hub.mintToken(user, { name }), WebSocket: sockets.WebSocket, lifecycle: false });
  return { client, sockets };
}

/** A mounted tree, with a way to change it. */
function mount(node: ReactNode) {
  const container = document.createElement("div");
  document.body.append(container);
  const root = createRoot(container);
  root.render(node);
  return {
    text: () => container.textContent ?? "",
    rerender: (next: ReactNode) => root.render(next),
    unmount: () => root.unmount(),
  };
}

/** Waits until the rendered text satisfies `check`. */
async function rendered(tree: { text: () => string }, what: string, check: (text: string) => boolean): Promise<void> {
  await until(`the page to show ${what}`, () => check(tree.text()));
}

function JobProgress({ job, renders }: { job: JobChannel; renders: string[] }) {
  const { state, status } = useChannel(job);
  renders.push(`${status}:${state?.progress ?? "-"}`);
  return createElement("p", null, `${status} ${state?.progress ?? "-"}%`);
}

function MessageCount({ label, channel }: { label: string; channel: RoomChannel }) {
  const { state } = useChannel(channel);
  return createElement("span", null, `${label}:${state?.messages.length ?? 0} `);
}

function Contacts({ client, ids }: { client: DovetailClient; ids: string[] }) {
  const { online, users } = usePresence(client, ids);
  const names = online.map((id) => users[id]?.user.name ?? id);
  return createElement("p", null, `online: ${names.join(", ") || "nobody"}`);
}

describe("useChannel in a real renderer", () => {
  it("mounts, re-renders on each event, and closes the socket on unmount", async () => {
    const owner = uniqueId("ada");
    const job = uniqueId("job");
    await hub.produce("/v1/jobs", { id: job, owner });
    const { client, sockets } = await clientFor(owner, "Ada");
    const renders: string[] = [];
    const channel = client.job(job);
    const tree = mount(createElement(JobProgress, { job: channel, renders }));
    await rendered(tree, "the open job", (t) => t === "open 0%");

    for (const progress of [25, 60]) {
      await hub.produce(`/v1/jobs/${job}/events`, { status: "running", progress });
      await rendered(tree, `${progress}%`, (t) => t === `open ${progress}%`);
    }
    expect(renders).toContain("open:25");
    expect(sockets.opened).toHaveLength(1);

    tree.unmount();
    await until("the socket to close after unmount", () => sockets.opened[0]?.readyState === WebSocket.CLOSED);
    expect(channel.status).toBe("closed");
    // Another watcher sees the next update; the unmounted component renders nothing more.
    const count = renders.length;
    const other = await clientFor(owner, "Ada");
    const watcher = other.client.job(job);
    await until("the other watcher to open", () => watcher.status === "open");
    await hub.produce(`/v1/jobs/${job}/events`, { status: "running", progress: 90 });
    await until("the other watcher to see 90%", () => watcher.state?.progress === 90);
    expect(renders).toHaveLength(count);
    other.client.close();
    client.close();
  });

  it("opens one socket for two components on the same channel, and closes it when the last unmounts", async () => {
    const room = uniqueId("room");
    await hub.produce(`/v1/rooms/${room}`, { visibility: "public" }, "PUT");
    const me = uniqueId("ada");
    const { client, sockets } = await clientFor(me, "Ada");
    const both = (showSecond: boolean) =>
      createElement(
        "div",
        null,
        createElement(MessageCount, { label: "a", channel: client.room(room) }),
        showSecond ? createElement(MessageCount, { label: "b", channel: client.room(room) }) : null,
      );
    const tree = mount(both(true));
    await until("the room to open", () => client.room(room).status === "open");
    await client.room(room).message("hello");
    await rendered(tree, "the message in both", (t) => t === "a:1 b:1 ");
    expect(sockets.opened).toHaveLength(1);

    tree.rerender(both(false));
    await rendered(tree, "one component left", (t) => t === "a:1 ");
    // The component left holds the socket: a later message still reaches it.
    await client.room(room).message("still here");
    await rendered(tree, "the second message", (t) => t === "a:2 ");
    expect(sockets.open()).toHaveLength(1);
    tree.unmount();
    await until("the shared socket to close", () => sockets.open().length === 0);
    expect(sockets.opened).toHaveLength(1);
    client.close();
  });
});

describe("usePresence in a real renderer", () => {
  it("shows contacts online from GET /v1/presence, then follows user:online / user:offline", async () => {
    const ada = uniqueId("ada");
    const bob = uniqueId("bob");
    const eve = uniqueId("eve");
    await hub.produce(`/v1/users/${ada}/contacts`, { contacts: [bob, eve] }, "PUT");
    const bobs = await clientFor(bob, "Bob");
    bobs.client.user(); // Bob is online before Ada looks
    await until("Bob's user socket to open", () => bobs.client.user().status === "open");

    const { client, sockets } = await clientFor(ada, "Ada");
    const tree = mount(createElement(Contacts, { client, ids: [bob, eve] }));
    await rendered(tree, "Bob online", (t) => t === "online: Bob");

    const eves = await clientFor(eve, "Eve");
    eves.client.user();
    await rendered(tree, "Eve online too", (t) => t === "online: Bob, Eve");
    expect(sockets.opened).toHaveLength(1); // the hook's user channel
    eves.client.close();
    await rendered(tree, "Eve offline again", (t) => t === "online: Bob");

    tree.unmount();
    await until("the presence socket to close", () => sockets.open().length === 0);
    for (const c of [client, bobs.client]) c.close();
  });
});
