// Dovetail client: one small, dependency-free SDK for browsers and Node >= 22.
// Wire types come from ../protocol by `import type`; only the close-code table and
// frame constants are shared at runtime (that module has no imports of its own).

import type { ContactStatus } from "../../../src/protocol/index.js";
import type { Channel } from "./channel.js";
import { BatchChannel, JobChannel, type ProductEvents, UserChannel } from "./channels.js";
import { type ConnectionContext, getJson, resolveContext } from "./context.js";
import { RoomChannel } from "./room-channel.js";
import { type StreamOptions, StreamReader } from "./stream.js";
import type { ClientOptions } from "./types.js";

export type {
  BatchEvents,
  ConnectedData,
  ContactStatus,
  HistoryMessage,
  HistoryPage,
  JobEventData,
  JobEvents,
  JobStatus,
  JobView,
  ReadReceipt,
  RetainedValue,
  RoomEvents,
  ServerFrame,
  StreamClosedData,
  StreamConnectedData,
  StreamData,
  StreamEncoding,
  TypingData,
  UserEvents,
  UserRef,
} from "../../../src/protocol/index.js";
export type { BackoffOptions } from "./backoff.js";
export { backoffCeiling, backoffDelay, DEFAULT_BACKOFF } from "./backoff.js";
export type { BaseEvents, ChannelEvents } from "./channel.js";
export { Channel } from "./channel.js";
export type { ProductEvents, UserState } from "./channels.js";
export { BatchChannel, JobChannel, UserChannel } from "./channels.js";
export { CloseCode, closeAction, DovetailError } from "./codes.js";
export type { AckPayload, QueueOptions } from "./requests.js";
export { DEFAULT_QUEUE } from "./requests.js";
export type { KeptMessage, RoomState } from "./room-channel.js";
export { RoomChannel } from "./room-channel.js";
export type { StreamChunk, StreamEvents, StreamOptions, StreamState } from "./stream.js";
export { StreamReader } from "./stream.js";
export type * from "./types.js";

export class DovetailClient {
  private readonly ctx: ConnectionContext;
  private readonly channels = new Map<string, Channel<any, any>>();
  private readonly streams = new Map<string, StreamReader>();
  private readonly unlisten: (() => void)[] = [];
  private closed = false;

  constructor(options: ClientOptions) {
    this.ctx = resolveContext(options);
    if (options.lifecycle !== false) this.watchLifecycle();
  }

  /** The latest ping round-trip time in ms, from whichever channel measured it last; undefined before the first. */
  get rtt(): number | undefined {
    return this.ctx.roundTrips.rttMs;
  }

  /** The signed-in user's channel: notifications, and the product events `Product` names. */
  user<Product extends ProductEvents = Record<never, never>>(): UserChannel<Product> {
    return this.channel("user", "/v1/ws/user", (n, p) => new UserChannel<Product>(n, p, this.ctx, () => this.channels.delete(n)));
  }

  job(id: string): JobChannel {
    return this.channel(`job:${id}`, path("job", id), (n, p) => new JobChannel(n, p, this.ctx, () => this.channels.delete(n)));
  }

  /** A room: chat, typing, presence, and the product events `Product` names. */
  room<Product extends ProductEvents = Record<never, never>>(id: string): RoomChannel<Product> {
    return this.channel(`room:${id}`, path("room", id), (n, p) => new RoomChannel<Product>(n, p, this.ctx, () => this.channels.delete(n)));
  }

  batch(id: string): BatchChannel {
    return this.channel(`batch:${id}`, path("batch", id), (n, p) => new BatchChannel(n, p, this.ctx, () => this.channels.delete(n)));
  }

  /**
   * Online state and last-seen time of some of the signed-in user's contacts (GET
   * /v1/presence, at most 100): the contacts a producer set, or the token's `watch` claim.
   * Changes then arrive on `user()` as `user:online` / `user:offline`.
   */
  async presence(userIds: string[]): Promise<ContactStatus[]> {
    if (userIds.length === 0) return [];
    const query = new URLSearchParams({ users: userIds.join(",") });
    return (await getJson<{ users: ContactStatus[] }>(this.ctx, `/v1/presence?${query}`)).users;
  }

  /**
   * A Durable Stream (`/v1/stream/<path>`) followed live on a socket: its text or JSON
   * messages so far, `data` events, and resume from the last offset after any drop. The
   * same reader for the same path until it is closed.
   */
  stream(path: string, options: StreamOptions = {}): StreamReader {
    if (this.closed) throw new Error("this client is closed");
    let reader = this.streams.get(path);
    if (!reader) {
      reader = new StreamReader(path, this.ctx, () => this.streams.delete(path), options);
      this.streams.set(path, reader);
    }
    return reader;
  }

  /** Closes every channel and stream and stops listening for online/visibility changes. */
  close(): void {
    this.closed = true;
    for (const reader of [...this.streams.values()]) reader.close();
    for (const channel of [...this.channels.values()]) channel.close();
    for (const off of this.unlisten.splice(0)) off();
  }

  /** The same channel object for the same name, until it is closed. */
  private channel<C extends Channel<any, any>>(name: string, channelPath: string, make: (name: string, path: string) => C): C {
    if (this.closed) throw new Error("this client is closed");
    let channel = this.channels.get(name) as C | undefined;
    if (!channel) {
      channel = make(name, channelPath);
      this.channels.set(name, channel);
    }
    return channel;
  }

  private wakeAll(reason: string): void {
    for (const channel of this.channels.values()) channel.wake(reason);
    for (const reader of this.streams.values()) reader.wake(reason);
  }

  private watchLifecycle(): void {
    const g = globalThis as {
      addEventListener?: EventTarget["addEventListener"];
      removeEventListener?: EventTarget["removeEventListener"];
    };
    const doc = (globalThis as { document?: Document }).document;
    if (typeof g.addEventListener === "function" && typeof g.removeEventListener === "function") {
      const onOnline = () => this.wakeAll("back online");
      g.addEventListener("online", onOnline);
      this.unlisten.push(() => g.removeEventListener?.("online", onOnline));
    }
    if (doc && typeof doc.addEventListener === "function") {
      const onVisible = () => {
        if (doc.visibilityState === "visible") this.wakeAll("tab visible");
      };
      doc.addEventListener("visibilitychange", onVisible);
      this.unlisten.push(() => doc.removeEventListener("visibilitychange", onVisible));
    }
  }
}

function path(kind: string, id: string): string {
  return `/v1/ws/${kind}/${encodeURIComponent(id)}`;
}

/** `createClient({ url, token })`: channels open lazily, one socket each, and reconnect on their own. */
export function createClient(options: ClientOptions): DovetailClient {
  return new DovetailClient(options);
}
