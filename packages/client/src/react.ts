// React binding, a separate entry so the core client stays dependency-free.
// `react` is an optional peer dependency: only this file imports it.
import { useEffect, useState } from "react";
import type { ContactStatus, ServerFrame } from "../../../src/protocol/index.js";
import type { Channel } from "./channel.js";
import type { DovetailError } from "./codes.js";
import type { DovetailClient } from "./index.js";
import type { StreamReader } from "./stream.js";
import type { Status, StatusChange } from "./types.js";

export interface ChannelView<State> {
  state: State | undefined;
  status: Status;
  statusChange: StatusChange | undefined;
  /** The most recent server event (logged or ephemeral). */
  lastEvent: ServerFrame | undefined;
  /** The last `keep` server events, oldest first. */
  events: ServerFrame[];
  /** Sends waiting for the connection (see Channel.queued). */
  queued: number;
}

type StateOf<C> = C extends Channel<infer S, any> ? S : never;

/**
 * Follows a channel and re-renders on every state, status, queue or event change. Pass
 * `client.room(id)` straight from render: the same id gives the same channel, so two
 * components share one socket. The hook holds the channel while mounted and the last
 * holder to unmount closes it; `keepOpen` leaves it open for code outside React.
 */
export function useChannel<C extends Channel<any, any>>(
  channel: C | null | undefined,
  options: { keep?: number; keepOpen?: boolean } = {},
): ChannelView<StateOf<C>> {
  const keep = options.keep ?? 20;
  const keepOpen = options.keepOpen ?? false;
  const [view, setView] = useState<ChannelView<StateOf<C>>>(() => viewOf(channel, []));
  useEffect(() => {
    let events: ServerFrame[] = [];
    setView(viewOf(channel, events));
    if (!channel) return;
    const release = keepOpen ? undefined : channel.hold();
    const update = () => setView(viewOf(channel, events));
    const offs = [
      channel.on("*", (frame: ServerFrame) => {
        events = [...events, frame].slice(-keep);
        update();
      }),
      channel.on("state", update),
      channel.on("status", update),
      channel.on("queue", update),
    ];
    return () => {
      for (const off of offs) off();
      release?.();
    };
  }, [channel, keep, keepOpen]);
  return view;
}

function viewOf<C extends Channel<any, any>>(channel: C | null | undefined, events: ServerFrame[]): ChannelView<StateOf<C>> {
  return {
    state: channel?.state,
    status: channel?.status ?? "closed",
    statusChange: channel?.lastStatus,
    lastEvent: events.at(-1),
    events,
    queued: channel?.queued ?? 0,
  };
}

export interface PresenceView {
  /** Each asked user's status, by id, once known. */
  users: Record<string, ContactStatus>;
  /** The asked users who are online, in the order asked. */
  online: string[];
  /** Why the last GET /v1/presence failed (`forbidden`: not a contact), if it did. */
  error: DovetailError | undefined;
}

/**
 * Who of `userIds` (the signed-in user's contacts) is online, with last-seen times: asked
 * of GET /v1/presence each time the user channel (re)connects, then kept current by its
 * `user:online` / `user:offline` events. Shares the user channel with useChannel(client.user()).
 */
export function usePresence(client: DovetailClient | null | undefined, userIds: readonly string[]): PresenceView {
  const key = userIds.join(",");
  const [view, setView] = useState<PresenceView>({ users: {}, online: [], error: undefined });
  useEffect(() => {
    if (!client) return;
    const ids = key === "" ? [] : key.split(",");
    const wanted = new Set(ids);
    const channel = client.user();
    const release = channel.hold();
    let users: Record<string, ContactStatus> = {};
    let error: DovetailError | undefined;
    let asking = 0;
    // Changes heard while a GET is in flight are newer than its answer.
    let heardDuring = new Map<string, ContactStatus>();
    const show = () => setView({ users, online: ids.filter((id) => users[id]?.online), error });
    const ask = () => {
      const mine = ++asking;
      heardDuring = new Map();
      client.presence(ids).then(
        (list) => {
          if (mine !== asking) return;
          users = { ...Object.fromEntries(list.map((s) => [s.user.id, s])), ...Object.fromEntries(heardDuring) };
          error = undefined;
          show();
        },
        (err: DovetailError) => {
          if (mine !== asking) return;
          error = err;
          show();
        },
      );
    };
    const heard = (status: ContactStatus) => {
      if (!wanted.has(status.user.id)) return;
      heardDuring.set(status.user.id, status);
      users = { ...users, [status.user.id]: status };
      show();
    };
    const offs = [channel.on("connected", ask), channel.on("user:online", heard), channel.on("user:offline", heard)];
    if (channel.status === "open") ask();
    return () => {
      asking = -1;
      for (const off of offs) off();
      release();
    };
  }, [client, key]);
  return view;
}

export interface StreamView {
  /** The text so far (text streams). */
  text: string;
  /** The messages so far (JSON-mode streams). */
  messages: unknown[];
  /** Everything is read and the stream is closed. */
  closed: boolean;
  status: Status;
  /** Where the stream stands: save it to resume elsewhere. */
  offset: string | undefined;
}

/**
 * Follows a Durable Stream on a socket: `client.stream(path)`, re-rendering on each
 * `data`, the close and status changes. The hook owns the reader: it closes it when the
 * path or client changes or the component unmounts. A null path follows nothing.
 */
export function useStream(client: DovetailClient | null | undefined, path: string | null | undefined): StreamView {
  const [view, setView] = useState<StreamView>(() => streamViewOf(undefined));
  useEffect(() => {
    if (!client || !path) {
      setView(streamViewOf(undefined));
      return;
    }
    const reader = client.stream(path);
    const update = () => setView(streamViewOf(reader));
    update();
    const offs = [reader.on("data", update), reader.on("closed", update), reader.on("status", update)];
    return () => {
      for (const off of offs) off();
      reader.close();
    };
  }, [client, path]);
  return view;
}

function streamViewOf(reader: StreamReader | undefined): StreamView {
  return {
    text: reader?.text ?? "",
    messages: reader?.messages ?? [],
    closed: reader?.closed ?? false,
    status: reader?.status ?? "closed",
    offset: reader?.state.offset,
  };
}
