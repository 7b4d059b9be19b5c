import type { ConnectedData, JobEventData, JobView, ServerFrame, TypingData, UserRef } from "../protocol";
import { type AckPayload, Connection, type ConnectionContext } from "./connection";
import { Emitter } from "./emitter";
import type { BatchView, Notification, RoomMessage, RoomSnapshot, Status, StatusChange, UserSnapshot } from "./types";

/** Events every channel emits besides its server events. */
export interface BaseEvents<State> {
  status: StatusChange;
  /** The state changed (snapshot rebuilt, or an event applied). */
  state: State;
  /** Every `connected` frame. */
  connected: ConnectedData;
  /** A reconnect could not resume: state was rebuilt from the snapshot; events in between were not seen. */
  reset: ConnectedData;
  /** An `error` frame that answers no pending send(). */
  error: { code: string; message: string; ref?: string | number };
  /** Every server event (logged or ephemeral), after the state is updated. */
  "*": ServerFrame;
}

export type ChannelEvents<State, Server> = BaseEvents<State> & Server;

/**
 * A subscription to one channel: its socket, its state (snapshot plus events) and its
 * events. Subclasses say how the snapshot and each event shape the state.
 */
export abstract class Channel<State, Server extends object = Record<never, never>> extends Emitter<ChannelEvents<State, Server>> {
  state: State;
  /** Who the hub says we are on this channel (from the `connected` frame). */
  me: UserRef | undefined;
  lastStatus: StatusChange = { status: "connecting", reason: "starting" };
  protected readonly connection: Connection;

  constructor(
    readonly name: string,
    path: string,
    protected readonly ctx: ConnectionContext,
    private readonly onClose: () => void,
  ) {
    super();
    this.state = this.initial();
    this.connection = new Connection(path, ctx, {
      connected: (data) => this.handleConnected(data),
      frame: (frame) => this.handleFrame(frame),
      status: (change) => {
        this.lastStatus = change;
        this.emit("status", change as any);
      },
    });
    this.connection.start();
  }

  get status(): Status {
    return this.connection.status;
  }

  /** This channel's latest ping round-trip time in ms (status events carry it too). */
  get rtt(): number | undefined {
    return this.connection.rttMs;
  }

  /** Sends `{type, ...body, ref}`; resolves with the ack's data, rejects with the error's code. */
  send(type: string, body: Record<string, unknown> = {}, options: { timeoutMs?: number } = {}): Promise<AckPayload> {
    return this.connection.request(type, body, options.timeoutMs);
  }

  /** Stops this channel for good: no more reconnects; pending sends reject with "closed". */
  close(): void {
    this.connection.close();
    this.onClose();
  }

  /** Internal: see DovetailClient's online/visibility handling. */
  wake(reason: string): void {
    this.connection.wake(reason);
  }

  protected abstract initial(): State;
  protected abstract fromSnapshot(snapshot: unknown, previous: State): State;
  /** Returns the next state, or the same object when the event does not change it. */
  protected abstract reduce(state: State, frame: ServerFrame<string, any>): State;

  protected notify(type: string, body: Record<string, unknown>): boolean {
    return this.connection.notify(type, body);
  }

  protected setState(next: State): void {
    if (next === this.state) return;
    this.state = next;
    this.emit("state", next as any);
  }

  private handleConnected(data: ConnectedData): void {
    this.me = data.user;
    this.emit("connected", data as any);
    if (!data.resumed) {
      this.state = this.fromSnapshot(data.snapshot, this.state);
      this.emit("reset", data as any);
      this.emit("state", this.state as any);
    }
  }

  private handleFrame(frame: ServerFrame<string, any>): void {
    if (frame.type === "error") {
      this.emit("error", frame.data, frame);
      return;
    }
    this.setState(this.reduce(this.state, frame));
    this.emit(frame.type as any, frame.data, frame);
    this.emit("*", frame as any, frame);
  }
}

// ---- job ----

export interface JobEvents {
  "job:created": JobEventData;
  "job:update": JobEventData;
  "job:completed": JobEventData;
  "job:failed": JobEventData;
  "job:cancelled": JobEventData;
}

export class JobChannel extends Channel<JobView | null, JobEvents> {
  /** Asks the producer to stop (sets cancel_requested); resolves when the hub accepts it. */
  cancel(): Promise<AckPayload> {
    return this.send("cancel");
  }

  protected initial(): JobView | null {
    return null;
  }

  protected fromSnapshot(snapshot: unknown): JobView | null {
    return (snapshot as JobView | null) ?? null;
  }

  protected reduce(state: JobView | null, frame: ServerFrame<string, any>): JobView | null {
    if (!frame.type.startsWith("job:") || !frame.data) return state;
    const { data: _producerData, ...view } = frame.data as JobEventData;
    return view;
  }
}

// ---- batch ----

export interface BatchEvents {
  "batch:update": BatchView;
  "batch:completed": BatchView;
}

export class BatchChannel extends Channel<BatchView | null, BatchEvents> {
  protected initial(): BatchView | null {
    return null;
  }

  protected fromSnapshot(snapshot: unknown): BatchView | null {
    return (snapshot as BatchView | null) ?? null;
  }

  protected reduce(state: BatchView | null, frame: ServerFrame<string, any>): BatchView | null {
    return frame.type === "batch:update" || frame.type === "batch:completed" ? (frame.data as BatchView) : state;
  }
}

// ---- user ----

export interface UserState {
  unread: Notification[];
  unread_count: number;
}

export interface UserEvents {
  notification: Notification;
  "notification:read": { ids: string[] };
  /** Product events (`like:updated`, ...) arrive under their own type. */
  [type: string]: unknown;
}

export class UserChannel extends Channel<UserState, UserEvents> {
  /** Marks notifications read; every tab of this user then sees `notification:read`. */
  ack(ids: string[]): Promise<AckPayload> {
    return this.send("ack", { ids });
  }

  protected initial(): UserState {
    return { unread: [], unread_count: 0 };
  }

  protected fromSnapshot(snapshot: unknown): UserState {
    const s = (snapshot ?? {}) as UserSnapshot;
    const unread = s.unread ?? [];
    return { unread, unread_count: s.unread_count ?? unread.length };
  }

  protected reduce(state: UserState, frame: ServerFrame<string, any>): UserState {
    if (frame.type === "notification") {
      const n = frame.data as Notification;
      if (n.read || state.unread.some((u) => u.id === n.id)) return state;
      return { unread: [n, ...state.unread], unread_count: state.unread_count + 1 };
    }
    if (frame.type === "notification:read") {
      const ids = new Set((frame.data as { ids: string[] }).ids);
      const unread = state.unread.filter((n) => !ids.has(n.id));
      const removed = state.unread.length - unread.length;
      return removed === 0 ? state : { unread, unread_count: Math.max(0, state.unread_count - removed) };
    }
    return state;
  }
}

// ---- room ----

export interface RoomEvents {
  message: RoomMessage;
  typing: TypingData;
  "presence:join": { user: UserRef };
  "presence:leave": { user: UserRef };
  [type: string]: unknown;
}

export interface RoomState {
  id: string;
  visibility?: "private" | "public";
  /** Who is online now (one entry per user, not per tab). */
  online: UserRef[];
  /** Messages seen by this client, oldest first (at most 200). */
  messages: RoomMessage[];
  /** Others typing now; entries expire on their own. */
  typing: UserRef[];
}

const MAX_MESSAGES = 200;
const DEFAULT_TYPING_MS = 6_000;

export class RoomChannel extends Channel<RoomState, RoomEvents> {
  private readonly typingTimers = new Map<string, unknown>();

  /** Posts a chat message; resolves with `{ ref, id, seq }` once the hub logged it. */
  message(text: string, data?: unknown): Promise<AckPayload> {
    return this.send("message", data === undefined ? { text } : { text, data });
  }

  /** Tells others we are (or stopped) typing. Dropped when not connected: it is ephemeral. */
  typing(typing = true): boolean {
    return this.notify("typing", { typing });
  }

  get presence(): UserRef[] {
    return this.state.online;
  }

  override close(): void {
    for (const timer of this.typingTimers.values()) this.ctx.timers.clearTimeout(timer);
    this.typingTimers.clear();
    super.close();
  }

  protected initial(): RoomState {
    return { id: this.name.slice("room:".length), online: [], messages: [], typing: [] };
  }

  protected fromSnapshot(snapshot: unknown, previous: RoomState): RoomState {
    const s = (snapshot ?? {}) as Partial<RoomSnapshot>;
    // Messages are history, not state: keep what was seen; `reset` tells the app about the gap.
    return {
      id: s.id ?? previous.id,
      ...(s.visibility ? { visibility: s.visibility } : {}),
      online: s.online ?? [],
      messages: previous.messages,
      typing: [],
    };
  }

  protected reduce(state: RoomState, frame: ServerFrame<string, any>): RoomState {
    switch (frame.type) {
      case "message": {
        const message = frame.data as RoomMessage;
        if (state.messages.some((m) => m.id === message.id)) return state;
        const typing = state.typing.filter((u) => u.id !== message.from);
        return { ...state, messages: [...state.messages, message].slice(-MAX_MESSAGES), typing };
      }
      case "presence:join": {
        const { user } = frame.data as { user: UserRef };
        if (state.online.some((u) => u.id === user.id)) return state;
        return { ...state, online: [...state.online, user] };
      }
      case "presence:leave": {
        const { user } = frame.data as { user: UserRef };
        return { ...state, online: state.online.filter((u) => u.id !== user.id), typing: state.typing.filter((u) => u.id !== user.id) };
      }
      case "typing":
        return this.applyTyping(state, frame.data as TypingData);
      default:
        return state;
    }
  }

  private applyTyping(state: RoomState, event: TypingData): RoomState {
    const id = event.user.id;
    if (id === this.me?.id) return state;
    const old = this.typingTimers.get(id);
    if (old !== undefined) this.ctx.timers.clearTimeout(old);
    this.typingTimers.delete(id);
    const others = state.typing.filter((u) => u.id !== id);
    if (!event.typing) return others.length === state.typing.length ? state : { ...state, typing: others };
    this.typingTimers.set(
      id,
      this.ctx.timers.setTimeout(() => {
        this.typingTimers.delete(id);
        this.setState({ ...this.state, typing: this.state.typing.filter((u) => u.id !== id) });
      }, event.expires_in_ms ?? DEFAULT_TYPING_MS),
    );
    return { ...state, typing: [...others, event.user] };
  }
}
