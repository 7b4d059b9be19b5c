// What a hub sends: logged events (with seq, replayed on resume) and ephemeral frames,
// each serialized once and the same string sent to every socket.
import { asHubError, HubError } from "../errors";
import { log } from "../log";
import { type ConnectedData, type ServerFrame, SKIP_FRAME, type SkipData } from "../protocol";
import type { ClientRefs } from "./client-refs";
import type { Attachment, Connections } from "./connections";
import type { ChannelCounters } from "./counters";
import type { EventLog, LoggedEvent } from "./event-log";
import type { LogTrimmer } from "./log-trim";

export class Publisher {
  constructor(
    private readonly events: EventLog,
    private readonly sockets: Connections,
    private readonly counters: ChannelCounters,
    private readonly trimmer: LogTrimmer,
    private readonly answers: ClientRefs,
  ) {}

  /**
   * Logs an event and sends it to every open socket but those `except` picks: they get a
   * `skip` frame for its seq instead (so they see no gap), and the event itself on replay.
   * `retainKey` marks an event whose value the channel also keeps (see RetainedValues).
   */
  publish(type: string, data: unknown, now: number, except?: (who: Attachment) => boolean, retainKey?: string): LoggedEvent {
    const { to, excepted } = this.sockets.split(except);
    // The row, with its delivery count, is the publish's one write: sends leave only once
    // it is durable (the output gate), and all of this is synchronous, so nothing comes between.
    const event = this.events.append(type, data, now, to.length, retainKey);
    for (const ws of to) ws.send(event.frame);
    if (excepted.length > 0) {
      const skip = this.frame(SKIP_FRAME, { seq: event.seq } satisfies SkipData, now);
      for (const ws of excepted) ws.send(skip);
    }
    this.trimmer.noteAppend(now);
    this.counters.notePublished();
    return event;
  }

  /**
   * The first frames on a new socket: `connected`, then what it missed after `since` (or
   * nothing, with `resumed:false`, when that cannot be served exactly). Synchronous, so the
   * replay is queued before any live event can be: missed events strictly before new ones.
   * Answers how many events were replayed, or null when not resumed.
   */
  greet(
    ws: WebSocket,
    resume: { since?: number; epoch?: string },
    data: Omit<ConnectedData, "epoch" | "seq" | "resumed">,
    now: number,
  ): number | null {
    const replay = this.events.replayAfter(resume.since, resume.epoch);
    const connected: ConnectedData = { ...data, epoch: this.events.epoch, seq: this.events.lastSeq, resumed: replay !== null };
    ws.send(this.frame("connected", connected, now));
    for (const frame of replay ?? []) ws.send(frame);
    return replay === null ? null : replay.length;
  }

  /** An ephemeral frame: no seq, not logged, not replayed. */
  frame(type: string, data: unknown, now: number): string {
    const frame: ServerFrame = { type, channel: this.events.channel, ts: new Date(now).toISOString(), data };
    return JSON.stringify(frame);
  }

  /** Acknowledges a client frame, remembering the answer in case the client sends the frame again. */
  ack(ws: WebSocket, who: Attachment, ref: string | number | undefined, extra: Record<string, unknown>, now: number): void {
    const answer = this.frame("ack", { ...extra, ref }, now);
    this.answers.remember(who, ref, answer, now);
    ws.send(answer);
  }

  /** A frame sent again after a reconnect gets its first answer again; false when it is new. */
  answerAgain(ws: WebSocket, who: Attachment, ref: string | number | undefined, now: number): boolean {
    const answer = this.answers.recall(who, ref, now);
    if (answer !== undefined) ws.send(answer);
    return answer !== undefined;
  }

  /** An `error` frame with the same code, message and issues an HTTP answer would carry. */
  sendError(ws: WebSocket, ref: string | number | undefined, err: unknown, now: number): void {
    const error = asHubError(err);
    this.counters.add("errors");
    if (!(err instanceof HubError)) log("socket.error", { channel: this.events.channel, error: String(err) });
    if (ws.readyState === WebSocket.OPEN) ws.send(this.frame("error", { ref, ...error.toPayload() }, now));
  }
}
