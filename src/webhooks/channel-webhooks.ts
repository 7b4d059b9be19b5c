import type { HubConfig } from "../config";
import { HubError, unwrap } from "../errors";
import type { Attachment } from "../hub/connections";
import { FrameRateLimiter } from "../hub/frame-rate";
import type { ClientFrame } from "../hub/intake";
import { SingleFlight } from "../hub/single-flight";
import type { Timers } from "../hub/timers";
import { log } from "../log";
import type { WebhookData, WebhookEventType, WebhookPayload } from "../protocol";
import type { DeadLetterEntry } from "./dead-letters";
import { queueClientEvent } from "./emit";
import { Outbox, type QueuedWebhook } from "./outbox";
import { afterFailure } from "./retry";
import { signWebhook } from "./signature";

export { EMIT_FRAME } from "./emit";
export const WEBHOOK_TIMER = "webhooks";
/** What a replay hands back to a channel. */
export type Requeue = Pick<DeadLetterEntry, "id" | "type" | "body">;
/** One attempt waits this long for the receiver's answer. */
export const ATTEMPT_TIMEOUT_MS = 10_000;
/** While a delivery runs, the timer is kept this far ahead, so a delivery cut short (eviction) resumes. */
const BACKSTOP_MS = ATTEMPT_TIMEOUT_MS + 5_000;
/** A hand-over to the dead letters that failed is tried again after this. */
const HANDOVER_RETRY_MS = 30_000;
/** Dead letters handed over per call. */
const HANDOVER_BATCH = 100;

export type QueueResult = { queued: true; id: string } | { queued: false; reason: "off" | "full" };

/** What the hub lends: its clock, its channel, and its storage, which exists only after a first write. */
export interface WebhookHost {
  now(): number;
  channel(): string;
  stored(): boolean;
  ensureStorage(): void;
}

type Attempt = { ok: true } | { ok: false; gone: boolean; error: string };

/**
 * A channel's webhooks: queued in its outbox in the same write as the change they report,
 * sent from the hub's alarm one at a time in order (a later event waits for an earlier
 * one), retried on the schedule of ./retry.ts, and handed to the DeadLetters object when
 * given up on.
 */
export class ChannelWebhooks {
  readonly outbox: Outbox;
  private readonly host: WebhookHost & { config: HubConfig; timers: Timers; env: Env };
  private readonly emitRate: FrameRateLimiter;
  private readonly delivery = new SingleFlight(() => this.deliverDue());

  constructor(
    private readonly ctx: DurableObjectState,
    env: Env,
    config: HubConfig,
    timers: Timers,
    hub: WebhookHost,
  ) {
    this.outbox = new Outbox(ctx.storage.sql, hub.stored);
    this.host = { ...hub, config, timers, env };
    this.emitRate = new FrameRateLimiter(config.webhooks.emitRate);
  }

  /**
   * A client's `emit` frame, on any channel its socket is on, with a rate budget of its
   * own. Answers the webhook id once the event is in the outbox; the caller acks with it.
   */
  emit(frame: ClientFrame, from: Attachment): string {
    if (this.emitRate.check(from.cid, this.host.now()) !== "ok") {
      throw new HubError("rate_limited", `more than ${this.host.config.webhooks.emitRate.perSecond} emits per second`);
    }
    return queueClientEvent(frame, from, this);
  }

  /** A socket left: its emit budget goes with it. */
  forget(cid: string): void {
    this.emitRate.forget(cid);
  }

  /** Where this channel's webhooks go now; null when nowhere (no URL, no secret, or disabled by a 410). */
  target(): string | null {
    const { secrets, url } = this.host.config.webhooks;
    if (secrets.length === 0 || this.outbox.setting("disabled") !== undefined) return null;
    return this.outbox.setting("url") ?? url ?? null;
  }

  /** A room's or job's own `webhook_url` (null: the hub's WEBHOOK_URL). Setting it re-enables a disabled channel. */
  configure(url: string | null): void {
    this.host.ensureStorage();
    this.outbox.setSetting("url", url);
    this.outbox.setSetting("disabled", null);
  }

  /** Queues an event for the backend. Synchronous, so it commits with the caller's own writes. */
  queue<T extends WebhookEventType>(type: T, data: WebhookData[T]): QueueResult {
    if (this.target() === null) return { queued: false, reason: "off" };
    this.host.ensureStorage();
    const now = this.host.now();
    const id = `msg_${crypto.randomUUID().replaceAll("-", "")}`;
    const payload = { type, timestamp: new Date(now).toISOString(), channel: this.host.channel(), data } as WebhookPayload;
    if (!this.outbox.add({ id, type, body: JSON.stringify(payload) }, now)) {
      log("webhook.dropped", { channel: this.host.channel(), type, reason: "outbox full" });
      return { queued: false, reason: "full" };
    }
    this.host.timers.set(WEBHOOK_TIMER, now);
    return { queued: true, id };
  }

  /**
   * Queues `type` when the channel gains its first socket, and `lastSocket` queues its
   * pair when the last one goes: each once, however many sockets race, because what the
   * backend was told is stored, not derived from a socket count. The first event's data
   * is kept, so the pair can still be sent after a restart that lost every socket.
   */
  firstSocket<T extends WebhookEventType>(type: T, data: WebhookData[T]): void {
    if (this.outbox.setting("occupied") !== undefined) return;
    // Only what the backend was actually told gets its pair later.
    if (this.queue(type, data).queued) this.outbox.setSetting("occupied", JSON.stringify(data));
  }

  lastSocket<T extends WebhookEventType>(type: T, data?: WebhookData[T]): void {
    const told = this.outbox.setting("occupied");
    if (told === undefined) return;
    this.outbox.setSetting("occupied", null);
    this.queue(type, data ?? (JSON.parse(told) as WebhookData[T]));
  }

  /** Puts a dead letter back in the queue (a replay), and re-enables the channel. */
  requeue(entry: Requeue): void {
    this.host.ensureStorage();
    this.outbox.setSetting("disabled", null);
    const now = this.host.now();
    this.outbox.requeue(entry, now);
    this.host.timers.set(WEBHOOK_TIMER, now);
  }

  /** The alarm's part: start a delivery without holding up the hub's other timers. */
  onTimer(): void {
    this.host.timers.set(WEBHOOK_TIMER, this.host.now() + BACKSTOP_MS);
    this.ctx.waitUntil(this.deliver());
  }

  /** Sends what is due, one delivery at a time; a call during a delivery makes it go round once more. */
  deliver(): Promise<void> {
    return this.delivery
      .run()
      .catch((err: unknown) => log("webhook.delivery_failed", { channel: this.host.channel(), error: String(err) }));
  }

  /**
   * Before the channel's storage is deleted (expiry): every event not yet delivered goes
   * to the dead letters, so a replay can still send it. Throws when that fails, so the
   * caller's timer tries again rather than lose them.
   */
  async evacuate(reason: string): Promise<void> {
    if (!this.host.stored()) return;
    this.outbox.giveUp(undefined, `not delivered before the channel was deleted (${reason})`, this.host.now());
    while (this.outbox.givenUp(1).length > 0) {
      if (!(await this.handOver())) throw new Error("dead letters unreachable");
    }
  }

  private async deliverDue(): Promise<void> {
    if (!this.host.stored()) return;
    for (;;) {
      const head = this.outbox.head();
      const now = this.host.now();
      if (!head) break;
      if (head.nextAt > now) {
        this.host.timers.set(WEBHOOK_TIMER, head.nextAt);
        break;
      }
      const url = this.target();
      const attempt: Attempt = url
        ? await this.send(head, url)
        : { ok: false, gone: true, error: "no webhook URL is configured for this channel" };
      this.settle(head, attempt);
    }
    if (!this.outbox.head()) this.host.timers.clear(WEBHOOK_TIMER);
    if (this.outbox.givenUp(1).length > 0 && !(await this.handOver())) {
      const retry = this.host.now() + HANDOVER_RETRY_MS;
      const pending = this.host.timers.dueOf(WEBHOOK_TIMER);
      if (pending === null || pending > retry) this.host.timers.set(WEBHOOK_TIMER, retry);
    }
  }

  private settle(head: QueuedWebhook, attempt: Attempt): void {
    const now = this.host.now();
    const failures = head.failures + 1;
    if (attempt.ok) {
      this.outbox.remove(head.id);
      return;
    }
    log("webhook.attempt_failed", { channel: this.host.channel(), id: head.id, type: head.type, failures, error: attempt.error });
    if (attempt.gone) {
      // 410 Gone: the receiver wants no more from this channel. Everything queued is given up on.
      if (this.target() !== null) this.outbox.setSetting("disabled", String(now));
      this.outbox.giveUp(head.id, attempt.error, now, failures);
      this.outbox.giveUp(undefined, `not sent: ${attempt.error}`, now);
      return;
    }
    const decision = afterFailure({
      failures,
      queuedAt: head.queuedAt,
      now,
      baseMs: this.host.config.webhooks.retryBaseMs,
      random: Math.random(),
    });
    if ("deadLetter" in decision) this.outbox.giveUp(head.id, attempt.error, now, failures);
    else this.outbox.retryAt(head.id, decision.retryAt, failures, attempt.error);
  }

  private async send(event: QueuedWebhook, url: string): Promise<Attempt> {
    const timestamp = Math.floor(this.host.now() / 1000);
    try {
      const response = await fetch(url, {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          "User-Agent": "Dovetail-Webhooks/1",
          "webhook-id": event.id,
          "webhook-timestamp": String(timestamp),
          "webhook-signature": await signWebhook(this.host.config.webhooks.secrets, event.id, timestamp, event.body),
        },
        body: event.body,
        // A redirect could lead anywhere, past the URL checks: it counts as a failure.
        redirect: "manual",
        signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS),
      });
      await response.body?.cancel();
      if (response.status >= 200 && response.status < 300) return { ok: true };
      return { ok: false, gone: response.status === 410, error: `receiver answered ${response.status}` };
    } catch (err) {
      const timedOut = err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError");
      return {
        ok: false,
        gone: false,
        error: timedOut ? `no answer within ${ATTEMPT_TIMEOUT_MS / 1000} s` : `could not connect: ${String(err)}`,
      };
    }
  }

  /** Hands given-up events to the DeadLetters object, then forgets them here. False when it could not. */
  private async handOver(): Promise<boolean> {
    const batch = this.outbox.givenUp(HANDOVER_BATCH);
    const channel = this.host.channel();
    const entries: DeadLetterEntry[] = batch.map((e) => ({
      id: e.id,
      // From the body: a replay into an expired channel has no channel name of its own any more.
      channel: (JSON.parse(e.body) as WebhookPayload).channel,
      type: e.type,
      body: e.body,
      queuedAt: e.queuedAt,
      failedAt: e.failedAt ?? this.host.now(),
      attempts: e.failures,
      lastError: e.lastError ?? "unknown",
    }));
    try {
      unwrap(await this.host.env.DEAD_LETTERS.getByName("global").record(entries));
    } catch (err) {
      log("webhook.handover_failed", { channel, count: entries.length, error: String(err) });
      return false;
    }
    for (const e of batch) this.outbox.remove(e.id);
    log("webhook.dead_lettered", { channel, ids: batch.map((e) => e.id) });
    return true;
  }
}
