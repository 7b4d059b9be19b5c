import type {
  BatchEvents,
  JobEventData,
  JobEvents,
  JobView,
  NotificationReadData,
  RetainedValue,
  ServerFrame,
  UserEvents,
} from "../../../src/protocol/index.js";
import { Channel } from "./channel.js";
import type { AckPayload } from "./requests.js";
import { applyRetained } from "./retained.js";
import { StreamReader } from "./stream.js";
import type { BatchView, Notification, UserSnapshot } from "./types.js";

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
  /** The user's retained values, by key. */
  retained: Record<string, RetainedValue>;
}

export class UserChannel<Product extends ProductEvents = Record<never, never>> extends Channel<UserState, UserEvents & Product> {
  /** Marks notifications read; every tab of this user then sees `notification:read`. */
  ack(ids: string[]): Promise<AckPayload> {
    return this.send("ack", { ids });
  }

  /** Marks every notification read, on every device. */
  readAll(): Promise<AckPayload> {
    return this.send("read_all");
  }

  protected initial(): UserState {
    return { unread: [], unread_count: 0, retained: {} };
  }

  protected fromSnapshot(snapshot: unknown): UserState {
    const s = (snapshot ?? {}) as Partial<UserSnapshot>;
    const unread = s.unread ?? [];
    return { unread, unread_count: s.unread_count ?? unread.length, retained: s.retained ?? {} };
  }

  protected reduce(state: UserState, frame: ServerFrame<string, any>): UserState {
    if (frame.type === "notification") {
      const n = frame.data as Notification;
      if (n.read || state.unread.some((u) => u.id === n.id)) return state;
      return { ...state, unread: [n, ...state.unread], unread_count: state.unread_count + 1 };
    }
    if (frame.type === "notification:read") {
      const read = frame.data as NotificationReadData;
      const ids = new Set(read.ids);
      const unread = read.all ? [] : state.unread.filter((n) => !ids.has(n.id));
      // The hub says what is left; an older hub did not, so count what dropped out.
      const unread_count = read.unread_count ?? Math.max(0, state.unread_count - (state.unread.length - unread.length));
      return { ...state, unread, unread_count };
    }
    return applyRetained(state, frame);
  }
}
