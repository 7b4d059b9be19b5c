// The React hooks in a real renderer (react-dom in a jsdom document) against a real hub on
// a real port: components mount, re-render on events, share sockets and close them.
import { JSDOM } from "jsdom";
import { createElement, type ReactNode } from "react";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { createClient, type DovetailClient, type JobChannel, type RoomChannel, type SocketFactory } from "../../src/client/index";
import type * as Hooks from "../../src/client/react";
import { type Hub, startHub, uniqueId, until } from "../e2e/hub";

// react-dom decides at import whether there is a DOM, so the document comes first.
const dom = new JSDOM("<!doctype html><html><body></body></html>");
Object.assign(globalThis, { window: dom.window, document: dom.window.document, IS_REACT_ACT_ENVIRONMENT: true });
const { act } = await import("react");
const { createRoot } = await import("react-dom/client");
const { useChannel, usePresence } = (await import("../../src/client/react")) as typeof Hooks;

let hub: Hub;

beforeAll(async () => {
  // Offline at once when the last socket closes, so the test need not wait out the debounce.
  hub = await startHub({ vars: { OFFLINE_DELAY_S: "0" } });
});

afterAll(async () => {
  await hub?.dispose();
});

/** The ws package's WebSocket, remembering every socket the client opens. */
function recordingSockets() {
  const opened: WebSocket[] = [];
  class Recording extends WebSocket {
    constructor(url: string, protocols: string[]) {
      super(url, protocols);
      opened.push(this);
    }
  }
  return { opened, open: () => opened.filter((s) => s.readyState <= WebSocket.OPEN), WebSocket: Recording as unknown as SocketFactory };
}

async function clientFor(user: string, name: string, sockets = recordingSockets()) {
  const client = createClient({ url: hub.url, token: await hub.mintToken(user, { name }), WebSocket: sockets.WebSocket, lifecycle: false });
  return { client, sockets };
}

/** A mounted tree with a way to change it and to count renders; every change goes through act(). */
async function mount(node: ReactNode) {
  const container = document.createElement("div");
  document.body.append(container);
  const root = createRoot(container);
  await act(async () => root.render(node));
  return {
    text: () => container.textContent ?? "",
    rerender: (next: ReactNode) => act(async () => root.render(next)),
    unmount: () => act(async () => root.unmount()),
  };
}

/** Waits, inside act(), until the rendered text satisfies `check`. */
async function rendered(tree: { text: () => string }, what: string, check: (text: string) => boolean): Promise<void> {
  await until(`the page to show ${what} (it shows "${tree.text()}")`, () => check(tree.text()));
  await act(async () => {});
}

function JobProgress({ job, renders }: { job: JobChannel; renders: string[] }) {
  const { state, status } = useChannel(job);
  renders.push(`${status}:${state?.progress ?? "-"}`);
  return createElement("p", null, `${status} ${state?.progress ?? "-"}%`);
}

describe("useChannel in a real renderer", () => {
  it("mounts, re-renders on each event, and closes the socket on unmount", async () => {
    const owner = uniqueId("ada");
    const job = uniqueId("job");
    await hub.produce("/v1/jobs", { id: job, owner });
    const { client, sockets } = await clientFor(owner, "Ada");
    const renders: string[] = [];
    const tree = await mount(createElement(JobProgress, { job: client.job(job), renders }));
    await rendered(tree, "the open job", (t) => t === "open 0%");

    for (const progress of [25, 60]) {
      await hub.produce(`/v1/jobs/${job}/events`, { status: "running", progress });
      await rendered(tree, `${progress}%`, (t) => t === `open ${progress}%`);
    }
    expect(renders).toContain("open:25");
    expect(sockets.opened).toHaveLength(1);

    await tree.unmount();
    await until("the socket to close after unmount", () => sockets.opened[0]?.readyState === WebSocket.CLOSED);
    const count = renders.length;
    await hub.produce(`/v1/jobs/${job}/events`, { status: "running", progress: 90 });
    await new Promise((resolve) => setTimeout(resolve, 50)); // time for a stray listener to fire, if one leaked
    expect(renders).toHaveLength(count);
    client.close();
  });

  it("opens one socket for two components on the same channel, and closes it when the last unmounts", async () => {
    const room = uniqueId("room");
    await hub.produce(`/v1/rooms/${room}`, { visibility: "public" }, "PUT");
    const me = uniqueId("ada");
    const { client, sockets } = await clientFor(me, "Ada");
    function Count({ label, channel }: { label: string; channel: RoomChannel }) {
      const { state } = useChannel(channel);
      return createElement("span", null, `${label}:${state?.messages.length ?? 0} `);
    }
    const both = (showSecond: boolean) =>
      createElement(
        "div",
        null,
        createElement(Count, { label: "a", channel: client.room(room) }),
        showSecond ? createElement(Count, { label: "b", channel: client.room(room) }) : null,
      );
    const tree = await mount(both(true));
    await until("the room to open", () => client.room(room).status === "open");
    await act(async () => {
      await client.room(room).message("hello");
    });
    await rendered(tree, "the message in both", (t) => t === "a:1 b:1 ");
    expect(sockets.opened).toHaveLength(1);

    await tree.rerender(both(false));
    await act(async () => {});
    expect(sockets.open()).toHaveLength(1); // the other component still holds it
    await tree.unmount();
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
    function Contacts({ client: c }: { client: DovetailClient }) {
      const { online, users } = usePresence(c, [bob, eve]);
      const names = online.map((id) => users[id]?.user.name ?? id);
      return createElement("p", null, `online: ${names.join(", ") || "nobody"}`);
    }
    const tree = await mount(createElement(Contacts, { client }));
    await rendered(tree, "Bob online", (t) => t === "online: Bob");

    const eves = await clientFor(eve, "Eve");
    eves.client.user();
    await rendered(tree, "Eve online too", (t) => t === "online: Bob, Eve");
    expect(sockets.opened).toHaveLength(1); // the hook's user channel
    eves.client.close();
    await rendered(tree, "Eve offline again", (t) => t === "online: Bob");

    await tree.unmount();
    await until("the presence socket to close", () => sockets.open().length === 0);
    for (const c of [client, bobs.client]) c.close();
  });
});
