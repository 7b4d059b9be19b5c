import type {
  HistoryMessage,
  HistoryPage,
  ReadReceipt,
  RetainedValue,
  RoomEvents,
  RoomMessage,
  RoomSnapshot,
  ServerFrame,
  TypingData,
  UserRef,
} from "../../../src/protocol/index.js";
import { Channel } from "./channel.js";
import type { ProductEvents } from "./channels.js";
import { getJson } from "./context.js";
import type { AckPayload } from "./requests.js";
import { applyRetained } from "./retained.js";

/** A message as the client keeps it: with its seq once known (history, snapshot, live frames). */
export type KeptMessage = RoomMessage & { seq?: number };

export interface RoomState {
  id: string;
  visibility?: "private" | "public";
  /** Who is online now (one entry per user, not per tab). */
  online: UserRef[];
  /** Messages seen by this client, oldest first: live ones, the snapshot's, and pages of history. */
  messages: KeptMessage[];
  /** Others typing now; entries expire on their own. */
  typing: UserRef[];
  /** The room's retained values (a like count, ...), by key: right on join, kept current by events. */
  retained: Record<string, RetainedValue>;
  /** How far each user has read, by user id. */
  reads: Record<string, ReadReceipt>;
  /** False once history() reached the start of what the room keeps. */
  hasEarlier: boolean;
}

const MAX_MESSAGES = 1_000;
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

  /** Says this user has read up to `upTo` (a seq); the room hears `read` at most once a second. */
  read(upTo: number): Promise<AckPayload> {
    return this.send("read", { up_to: upTo });
  }

  /**
   * Loads a page of older messages (GET /v1/rooms/:id/messages), newest first, and merges
   * it into `state.messages`. Without `before`, it pages back from the oldest message held.
   */
  async history(options: { before?: number; limit?: number } = {}): Promise<HistoryPage> {
    const before = options.before ?? this.state.messages.find((m) => m.seq !== undefined)?.seq;
    const query = new URLSearchParams();
    if (before !== undefined) query.set("before", String(before));
    if (options.limit !== undefined) query.set("limit", String(options.limit));
    const page = await getJson<HistoryPage>(this.ctx, `/v1/rooms/${encodeURIComponent(this.state.id)}/messages?${query}`);
    this.setState({ ...this.state, messages: merge(this.state.messages, page.messages), hasEarlier: page.next_before !== null });
    return page;
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
    return { id: this.name.slice("room:".length), online: [], messages: [], typing: [], retained: {}, reads: {}, hasEarlier: true };
  }

  protected fromSnapshot(snapshot: unknown, previous: RoomState): RoomState {
    const s = (snapshot ?? {}) as Partial<RoomSnapshot>;
    // Messages are history: keep what was seen and add the snapshot's; `reset` tells the app about a gap.
    return {
      ...this.ephemeral(s, previous),
      id: s.id ?? previous.id,
      ...(s.visibility ? { visibility: s.visibility } : {}),
      messages: merge(previous.messages, s.messages ?? []),
      typing: [],
      retained: s.retained ?? {},
      hasEarlier: previous.hasEarlier,
    };
  }

  // Presence and read receipts are not replayed: a resumed socket takes them from its snapshot.
  protected override onResumed(snapshot: unknown, state: RoomState): RoomState {
    return this.ephemeral((snapshot ?? {}) as Partial<RoomSnapshot>, state);
  }

  protected reduce(state: RoomState, frame: ServerFrame<string, any>): RoomState {
    switch (frame.type) {
      case "message": {
        const message: KeptMessage = { ...(frame.data as RoomMessage), ...(frame.seq !== undefined ? { seq: frame.seq } : {}) };
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
      case "read": {
        const receipt = frame.data as ReadReceipt;
        return { ...state, reads: { ...state.reads, [receipt.user.id]: receipt } };
      }
      case "typing":
        return this.applyTyping(state, frame.data as TypingData);
      default:
        return applyRetained(state, frame);
    }
  }

  private ephemeral(s: Partial<RoomSnapshot>, state: RoomState): RoomState {
    const reads = Object.fromEntries((s.reads ?? []).map((r) => [r.user.id, r]));
    return { ...state, online: s.online ?? state.online, reads: s.reads ? reads : state.reads };
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

/** Messages from both lists once each (by id), oldest first by seq where known. */
function merge(held: KeptMessage[], more: HistoryMessage[] | KeptMessage[]): KeptMessage[] {
  const byId = new Map<string, KeptMessage>();
  for (const m of [...held, ...more]) byId.set(m.id, { ...byId.get(m.id), ...m });
  return [...byId.values()].sort((a, b) => (a.seq ?? Number.MAX_SAFE_INTEGER) - (b.seq ?? Number.MAX_SAFE_INTEGER));
}
