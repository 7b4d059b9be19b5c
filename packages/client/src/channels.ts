import type {
  BatchEvents,
  JobEventData,
  JobEvents,
  JobView,
  RoomEvents,
  ServerFrame,
  TypingData,
  UserEvents,
  UserRef,
} from "../../../src/protocol/index.js";
import { Channel } from "./channel.js";
import type { AckPayload } from "./requests.js";
import { StreamReader } from "./stream.js";
import type { BatchView, Notification, RoomMessage, RoomSnapshot, UserSnapshot } from "./types.js";

// The four kinds of channel: how each one's snapshot and events shape its state.

/**
 * The product events an app sends on user and room channels (`like:updated`, ...), as
 * a map from type to data: `client.user<{ "like:updated": { likes: number } }>()`.
 */
export type ProductEvents = Record<string, unknown>;

// ---- job ----

export class JobChannel extends Channel<JobView | null, JobEvents> {
  private outputReader: StreamReader | undefined;

  /**
   * The job's output stream (`jobs/<id>/output`, for jobs created with `output`), followed
   * on a socket of its own from the first use; closed with the channel.
   */
  get output(): StreamReader {
    this.outputReader ??= new StreamReader(`jobs/${this.name.slice("job:".length)}/output`, this.ctx, () => {
      this.outputReader = undefined;
    });
    return this.outputReader;
  }

  override close(): void {
    this.outputReader?.close();
    super.close();
  }

  override wake(reason: string): void {
    this.outputReader?.wake(reason);
    super.wake(reason);
  }

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

export class UserChannel<Product extends ProductEvents = Record<never, never>> extends Channel<UserState, UserEvents & Product> {
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

export class RoomChannel<Product extends ProductEvents = Record<never, never>> extends Channel<RoomState, RoomEvents & Product> {
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
