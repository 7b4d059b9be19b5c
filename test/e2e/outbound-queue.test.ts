// The client's outbound queue against a real hub, with the network cut for real: Alice's
// client talks to the hub through a TCP proxy the test can mute and cut. Every message
// she sends must reach Bob once, in order, whatever the cut interrupted.
import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient, type DovetailClient } from "../../packages/client/src/index";
import { type Hub, startHub, uniqueId, until } from "./hub";

let hub: Hub;
let proxy: NetworkProxy;

/** A TCP proxy to the hub: `muteDownstream` drops what the hub sends, `cut` drops every connection and refuses new ones. */
class NetworkProxy {
  private readonly server: Server;
  private readonly pairs = new Set<[Socket, Socket]>();
  private muted = false;
  private down = false;

  constructor(target: URL) {
    this.server = createServer((client) => {
      if (this.down) {
        client.destroy();
        return;
      }
      const upstream = tcpConnect(Number(target.port), target.hostname);
      const pair: [Socket, Socket] = [client, upstream];
      this.pairs.add(pair);
      client.on("data", (chunk) => upstream.write(chunk));
      upstream.on("data", (chunk) => {
        if (!this.muted) client.write(chunk);
      });
      const end = () => {
        this.pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      client.on("close", end).on("error", end);
      upstream.on("close", end).on("error", end);
    });
  }

  listen(): Promise<string> {
    return new Promise((resolve) =>
      this.server.listen(0, "127.0.0.1", () => resolve(`http://127.0.0.1:${(this.server.address() as { port: number }).port}`)),
    );
  }

  muteDownstream(): void {
    this.muted = true;
  }

  cut(): void {
    this.down = true;
    for (const [client, upstream] of this.pairs) {
      client.destroy();
      upstream.destroy();
    }
  }

  restore(): void {
    this.down = false;
    this.muted = false;
  }

  close(): Promise<void> {
    this.cut();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

beforeAll(async () => {
  hub = await startHub();
  proxy = new NetworkProxy(new URL(hub.url));
});

afterAll(async () => {
  await proxy?.close();
  await hub?.dispose();
});

async function signedIn(name: string, url: string): Promise<DovetailClient> {
  const token = await hub.mintToken(uniqueId(name.toLowerCase()), { name });
  return createClient({ url, token, lifecycle: false, backoff: { baseMs: 50, maxMs: 200 } });
}

describe("the outbound queue across a network cut", () => {
  it("delivers every message once, in order, including one whose ack the cut swallowed", async () => {
    const room = uniqueId("room");
    await hub.produce(`/v1/rooms/${room}`, { visibility: "public" }, "PUT");
    const alice = await signedIn("Alice", await proxy.listen());
    const bob = await signedIn("Bob", hub.url);
    const aliceRoom = alice.room(room);
    const bobRoom = bob.room(room);
    await until("both rooms to open", () => aliceRoom.status === "open" && bobRoom.status === "open");
    const bobTexts = () => bobRoom.state.messages.map((m) => m.text);

    await aliceRoom.message("m1");
    await aliceRoom.message("m2");
    // m3 reaches the hub, but its ack never gets back to Alice...
    proxy.muteDownstream();
    const m3 = aliceRoom.message("m3");
    await until("Bob to see m3", () => bobTexts().includes("m3"));
    // ...and then the network goes away while she keeps typing.
    proxy.cut();
    await until("Alice's client to notice", () => aliceRoom.status === "reconnecting");
    const later = [aliceRoom.message("m4"), aliceRoom.message("m5")];
    expect(aliceRoom.queued).toBe(3);
    expect(bobTexts()).toEqual(["m1", "m2", "m3"]);

    proxy.restore();
    const [ack3, ack4, ack5] = await Promise.all([m3, ...later]);
    expect(ack3?.id).toBe(bobRoom.state.messages[2]?.id); // answered from the hub's memory: the same message
    await until("Bob to see m5", () => bobTexts().includes("m5"));
    expect(bobTexts()).toEqual(["m1", "m2", "m3", "m4", "m5"]);
    expect([ack4?.seq, ack5?.seq]).toEqual([(ack3?.seq as number) + 1, (ack3?.seq as number) + 2]);
    expect(aliceRoom.state.messages.map((m) => m.text)).toEqual(["m1", "m2", "m3", "m4", "m5"]);
    expect(aliceRoom.queued).toBe(0);

    const history = await hub.produce(`/v1/rooms/${room}/messages`, undefined, "GET");
    expect(history.messages.map((m: { text: string }) => m.text).reverse()).toEqual(["m1", "m2", "m3", "m4", "m5"]);
    alice.close();
    bob.close();
  });
});
