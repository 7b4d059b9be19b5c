import type { ConnectedData, ServerFrame, UserRef } from "../../../src/protocol/index.js";
import { Connection } from "./connection.js";
import type { ConnectionContext } from "./context.js";
import { Emitter } from "./emitter.js";
import type { AckPayload } from "./requests.js";
import type { Status, StatusChange } from "./types.js";

/** Events every channel emits besides its server events. */
export interface BaseEvents<State> {
  status: StatusChange;
  /** The state changed (snapshot rebuilt, or an event applied). */
  state: State;
  /** Every `connected` frame. */
  connected: ConnectedData;
  /** A reconnect could not resume: state was rebuilt from the snapshot; events in between were not seen. */
  reset: ConnectedData;
  /** How many sends wait for the connection changed (see `queued`). */
  queue: { queued: number };
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
  private holders = 0;
  private queuedCount = 0;
  private closed = false;

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
      queued: (queued) => {
        this.queuedCount = queued;
        this.emit("queue", { queued } as any);
      },
    });
    this.connection.start();
  }

  get status(): Status {
    return this.connection.status;
  }

  /**
   * Sends made while not connected that wait to go out, in order, once the channel is
   * back (including those a drop left unanswered). Bounded by the client's `queue` option.
   */
  get queued(): number {
    return this.queuedCount;
  }

  /** This channel's latest ping round-trip time in ms (status events carry it too). */
  get rtt(): number | undefined {
    return this.connection.roundTrip.rttMs;
  }

  /**
   * Sends `{type, ...body, ref}`; resolves with the ack's data, rejects with the error's
   * code. Made while disconnected, it waits in the queue and goes out after the resume,
   * acted on once by the hub; it rejects with `queue_full`, `queue_expired`, or the code
   * of a close for good (`forbidden`, `not_found`).
   */
  send(type: string, body: Record<string, unknown> = {}, options: { timeoutMs?: number } = {}): Promise<AckPayload> {
    return this.connection.request(type, body, options.timeoutMs);
  }

  /**
   * An event for the backend (`ai_generation_start`, `log_event`, ...), delivered to it as
   * a `client.event` webhook. Resolves once the hub has stored it, with the webhook's `id`.
   */
  emitEvent(event: string, data?: unknown): Promise<AckPayload & { id?: string }> {
    return this.send("emit", data === undefined ? { event } : { event, data });
  }

  /** Stops this channel for good: no more reconnects; pending sends reject with "closed". */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.connection.close();
    this.onClose();
  }

  /**
   * Shares the channel (what the React hooks do): each holder calls the function this
   * returns when done, and when the last one has, the channel closes. The close waits a
   * tick, so a holder that lets go and takes hold again at once (React's strict mode, a
   * re-render with the same channel) keeps the socket.
   */
  hold(): () => void {
    this.holders += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.holders -= 1;
      if (this.holders === 0) this.ctx.timers.setTimeout(() => this.holders === 0 && this.close(), 0);
    };
  }

  /** Internal: see DovetailClient's online/visibility handling. */
  wake(reason: string): void {
    this.connection.wake(reason);
  }

  protected abstract initial(): State;
  protected abstract fromSnapshot(snapshot: unknown, previous: State): State;
  /** Resumed: replayed events will bring the state up to date; this takes what is not replayed from the snapshot. */
  protected onResumed(_snapshot: unknown, state: State): State {
    return state;
  }
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
    } else {
      this.setState(this.onResumed(data.snapshot, this.state));
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
