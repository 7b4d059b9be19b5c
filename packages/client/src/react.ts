// React binding, a separate entry so the core client stays dependency-free.
// `react` is an optional peer dependency: only this file imports it.
import { useEffect, useState } from "react";
import type { ServerFrame } from "../../../src/protocol/index.js";
import type { Channel } from "./channel.js";
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
}

type StateOf<C> = C extends Channel<infer S, any> ? S : never;

/**
 * Follows a channel: re-renders on every state, status or event change. Create the channel
 * with useMemo (client.job(id)) and close it in an effect cleanup when you own it.
 */
export function useChannel<C extends Channel<any, any>>(
  channel: C | null | undefined,
  options: { keep?: number } = {},
): ChannelView<StateOf<C>> {
  const keep = options.keep ?? 20;
  const [view, setView] = useState<ChannelView<StateOf<C>>>(() => viewOf(channel, []));
  useEffect(() => {
    let events: ServerFrame[] = [];
    setView(viewOf(channel, events));
    if (!channel) return;
    const update = () => setView(viewOf(channel, events));
    const offs = [
      channel.on("*", (frame: ServerFrame) => {
        events = [...events, frame].slice(-keep);
        update();
      }),
      channel.on("state", update),
      channel.on("status", update),
    ];
    return () => {
      for (const off of offs) off();
    };
  }, [channel, keep]);
  return view;
}

function viewOf<C extends Channel<any, any>>(channel: C | null | undefined, events: ServerFrame[]): ChannelView<StateOf<C>> {
  return {
    state: channel?.state,
    status: channel?.status ?? "closed",
    statusChange: channel?.lastStatus,
    lastEvent: events.at(-1),
    events,
  };
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
