// What keeps one member from flooding a room: the room's own decisions, pure or in
// memory, applied by RoomHub. Rates are per user (not per socket), so opening more tabs
// buys nothing; typing has its own, lower budget and goes out at most once a second per
// user; a snapshot fits a byte budget.
import type { HubConfig } from "../config";
import { HubError } from "../errors";
import { FrameRateLimiter } from "../hub/frame-rate";
import type { RoomMessage } from "../protocol";

/** Typing frames one user's typing reaches the others with, at most: one per this. */
export const TYPING_COALESCE_MS = 1_000;

/**
 * Remembers when each user's typing last went out, in memory: a hub that hibernates
 * forgets, which at worst lets one extra frame through.
 */
export class TypingCoalescer {
  private readonly lastSent = new Map<string, number>();

  /** True when `user`'s typing may go out now (and notes that it does). */
  admit(user: string, now: number): boolean {
    const last = this.lastSent.get(user);
    if (last !== undefined && now - last < TYPING_COALESCE_MS) return false;
    this.lastSent.set(user, now);
    if (this.lastSent.size > 10_000) this.forgetBefore(now - TYPING_COALESCE_MS);
    return true;
  }

  private forgetBefore(cutoff: number): void {
    for (const [user, at] of this.lastSent) if (at < cutoff) this.lastSent.delete(user);
  }
}

/** UTF-8 bytes of a value's JSON: what it costs stored and on the wire. */
export function jsonBytes(value: unknown): number {
  return new TextEncoder().encode(JSON.stringify(value)).length;
}

/**
 * The newest messages (oldest first) whose JSON fits `maxBytes`, and how many older ones
 * were left out to fit: a snapshot never grows past its budget, and says so when trimmed.
 */
export function fitMessages<M extends RoomMessage>(messages: M[], maxBytes: number): { messages: M[]; trimmed: number } {
  let bytes = 2; // the brackets
  let kept = 0;
  for (let i = messages.length - 1; i >= 0; i--) {
    const size = jsonBytes(messages[i]) + 1; // and a comma
    if (bytes + size > maxBytes) break;
    bytes += size;
    kept += 1;
  }
  return { messages: messages.slice(messages.length - kept), trimmed: messages.length - kept };
}

/** A room's limits for its members, applied by RoomHub. Throws HubError to refuse a frame. */
export class RoomLimits {
  private readonly messages: FrameRateLimiter;
  private readonly typing: FrameRateLimiter;
  private readonly coalescer = new TypingCoalescer();

  constructor(private readonly config: HubConfig) {
    this.messages = new FrameRateLimiter(config.roomMessageRate);
    this.typing = new FrameRateLimiter(config.roomTypingRate);
  }

  /** One message from `user` (any of their sockets): refused past the per-user rate. */
  takeMessage(user: string, now: number): void {
    if (this.messages.check(user, now) !== "ok") {
      throw new HubError("rate_limited", `more than ${this.config.roomMessageRate.perSecond} messages per second from one user`);
    }
  }

  takeTyping(user: string, now: number): void {
    if (this.typing.check(user, now) !== "ok") {
      throw new HubError("rate_limited", `more than ${this.config.roomTypingRate.perSecond} typing frames per second from one user`);
    }
  }

  /** The user's last socket here left: their budgets need not be remembered. */
  forget(user: string): void {
    this.messages.forget(user);
    this.typing.forget(user);
  }

  typingGoesOut(user: string, now: number): boolean {
    return this.coalescer.admit(user, now);
  }

  /** A message as it would be stored, stamps and all, must fit ROOM_MESSAGE_MAX_BYTES. */
  checkStored(message: RoomMessage): void {
    const bytes = jsonBytes(message);
    if (bytes > this.config.roomMessageMaxBytes) {
      throw new HubError("payload_too_large", `message is ${bytes} bytes stored; at most ${this.config.roomMessageMaxBytes}`);
    }
  }

  fitSnapshot<M extends RoomMessage>(messages: M[]): { messages: M[]; trimmed: number } {
    return fitMessages(messages, this.config.roomSnapshotBytes);
  }
}
