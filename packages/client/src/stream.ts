// A Durable Stream followed over a socket (GET /v1/ws/stream/<path>): the accumulated text
// or JSON messages (or bytes), `data` events, and resume across reconnects by offset.
import {
  STREAM_SOCKET_PREFIX,
  type StreamClosedData,
  type StreamConnectedData,
  type StreamData,
  type StreamEncoding,
  StreamFrame,
} from "../../../src/protocol/index.js";
import { Connection } from "./connection.js";
import type { ConnectionContext } from "./context.js";
import { Emitter } from "./emitter.js";
import type { Status, StatusChange } from "./types.js";

/** What one `data` event adds: the new text, messages or bytes, and where the stream stands. */
export interface StreamChunk {
  offset: string;
  next_offset: string;
  text?: string;
  messages?: unknown[];
  bytes?: Uint8Array;
}

export interface StreamState {
  /** Everything read so far, for text streams. */
  text: string;
  /** Everything read so far, for JSON-mode streams. */
  messages: unknown[];
  /** Everything read so far, for other types. */
  bytes: Uint8Array;
  /** The offset to resume from: the end of what is in text/messages/bytes. */
  offset: string | undefined;
  closed: boolean;
  contentType: string | undefined;
  encoding: StreamEncoding | undefined;
}

export interface StreamEvents {
  data: StreamChunk;
  /** The stream is closed and everything in it has been read. */
  closed: StreamClosedData;
  connected: StreamConnectedData;
  status: StatusChange;
  error: { code: string; message: string };
}

export interface StreamOptions {
  /** Where to start: "-1" (the start, default), "now", or an offset saved from an earlier read. */
  offset?: string;
}

function fromBase64(text: string): Uint8Array {
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

function joinBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a);
  out.set(b, a.byteLength);
  return out;
}

export class StreamReader extends Emitter<StreamEvents> {
  readonly state: StreamState = {
    text: "",
    messages: [],
    bytes: new Uint8Array(0),
    offset: undefined,
    closed: false,
    contentType: undefined,
    encoding: undefined,
  };
  lastStatus: StatusChange = { status: "connecting", reason: "starting" };
  private readonly connection: Connection;
  /** Pieces of one large append (`partial` frames), applied when its last piece arrives. */
  private pieces: StreamData[] = [];

  constructor(
    readonly path: string,
    ctx: ConnectionContext,
    private readonly onClose: () => void,
    options: StreamOptions = {},
  ) {
    super();
    const start = options.offset ?? "-1";
    // Stream paths hold only unreserved characters (and ":" in a channel id): no encoding.
    this.connection = new Connection(`${STREAM_SOCKET_PREFIX}${path}`, ctx, {
      resumeQuery: () => ({ offset: this.state.offset ?? start }),
      queued: () => {}, // a stream reader sends nothing
      connected: (data) => this.connected(data as unknown as StreamConnectedData),
      frame: (frame) => {
        if (frame.type === StreamFrame.Data) this.receive(frame.data as StreamData);
        else if (frame.type === StreamFrame.Closed) this.finish(frame.data as StreamClosedData);
        else if (frame.type === "error") this.emit("error", frame.data as StreamEvents["error"]);
      },
      status: (change) => {
        this.lastStatus = change;
        this.emit("status", change);
      },
    });
    this.connection.start();
  }

  get status(): Status {
    return this.connection.status;
  }

  /** The text so far (text streams). */
  get text(): string {
    return this.state.text;
  }

  /** The messages so far (JSON-mode streams). */
  get messages(): unknown[] {
    return this.state.messages;
  }

  get closed(): boolean {
    return this.state.closed;
  }

  /** Stops following the stream: no more reconnects. What was read stays readable. */
  close(): void {
    this.connection.close();
    this.onClose();
  }

  /** Internal: the client's online/visibility handling. */
  wake(reason: string): void {
    this.connection.wake(reason);
  }

  private connected(data: StreamConnectedData): void {
    // A drop in the middle of a large append: the resume sends that append again, whole.
    this.pieces = [];
    this.state.offset ??= data.offset;
    this.state.contentType = data.content_type;
    this.state.encoding = data.encoding;
    this.emit("connected", data);
  }

  private receive(data: StreamData): void {
    // Only what starts where this reader stands: never a gap, never twice.
    if (data.offset !== this.state.offset) return;
    if (data.partial) {
      this.pieces.push(data);
      return;
    }
    const pieces = [...this.pieces, data];
    this.pieces = [];
    const chunk: StreamChunk = { offset: data.offset, next_offset: data.next_offset };
    if (this.state.encoding === "json") {
      chunk.messages = pieces.flatMap((p) => p.data as unknown[]);
      this.state.messages = [...this.state.messages, ...chunk.messages];
    } else if (this.state.encoding === "base64") {
      chunk.bytes = pieces.map((p) => fromBase64(p.data as string)).reduce(joinBytes, new Uint8Array(0));
      this.state.bytes = joinBytes(this.state.bytes, chunk.bytes);
    } else {
      chunk.text = pieces.map((p) => p.data as string).join("");
      this.state.text += chunk.text;
    }
    this.state.offset = data.next_offset;
    this.emit("data", chunk);
  }

  private finish(data: StreamClosedData): void {
    this.state.closed = true;
    this.state.offset = data.next_offset;
    this.emit("closed", data);
    // The hub closes the socket next; nothing more will come, so no reconnect either.
    this.connection.close();
  }
}
