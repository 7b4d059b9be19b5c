// React binding, a separate entry so the core client stays dependency-free.
// `react` is an optional peer dependency: only this file imports it.
import { useEffect, useState } from "react";
import type { ServerFrame } from "../protocol";
import type { Channel } from "./channel";
import type { Status, StatusChange } from "./types";

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
