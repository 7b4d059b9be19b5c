import type { ServerFrame } from "../../../src/protocol/index.js";

export type Listener<T> = (payload: T, frame?: ServerFrame) => void;

/** A tiny typed event emitter. A throwing listener never breaks the connection. */
export class Emitter<Events extends object> {
  private readonly listeners = new Map<keyof Events, Set<Listener<any>>>();

  /** Subscribes; returns the unsubscribe function. */
  on<K extends keyof Events>(type: K, listener: Listener<Events[K]>): () => void {
    let set = this.listeners.get(type);
    if (!set) {
      set = new Set();
      this.listeners.set(type, set);
    }
    set.add(listener);
    return () => this.off(type, listener);
  }

  off<K extends keyof Events>(type: K, listener: Listener<Events[K]>): void {
    this.listeners.get(type)?.delete(listener);
  }

  protected emit<K extends keyof Events>(type: K, payload: Events[K], frame?: ServerFrame): void {
    for (const listener of [...(this.listeners.get(type) ?? [])]) {
      try {
        listener(payload, frame);
      } catch (err) {
        // Rethrown outside our stack so it still reaches the console / error handler.
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }
}
