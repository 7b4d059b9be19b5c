// Durable Streams on the hub (/v1/stream/<path>): create, append, read, head, delete.
// Appends carry idempotent-producer headers (Producer-Id, -Epoch, -Seq), so a retried
// POST is recognised by the hub and never appends twice; appends to one stream from one
// Producer go out one at a time, in call order.
import { send, type TransportOptions } from "./transport.js";

export interface StreamInfo {
  contentType: string;
  /** Where the next append will land; read from here to get only what comes after. */
  nextOffset: string;
}

export interface StreamChunk extends StreamInfo {
  /** Text for text/* and JSON streams (JSON ones as a JSON array text), bytes otherwise. */
  data: string | Uint8Array;
  /** True when this read reached the end of what the stream holds now. */
  upToDate: boolean;
}

export interface CreateStreamOptions {
  contentType?: string;
  ttlSeconds?: number;
  /** Initial content. */
  body?: string | Uint8Array;
}

const streamPath = (path: string) => `/v1/stream/${path.split("/").map(encodeURIComponent).join("/")}`;
const isText = (contentType: string) => contentType.startsWith("text/") || contentType.startsWith("application/json");

function info(response: Response): StreamInfo {
  return {
    contentType: response.headers.get("Content-Type") ?? "application/octet-stream",
    nextOffset: response.headers.get("Stream-Next-Offset") ?? "",
  };
}

export class Streams {
  private readonly producerId = crypto.randomUUID();
  private readonly writers = new Map<string, { seq: number; epoch: number; tail: Promise<unknown> }>();

  constructor(private readonly transport: TransportOptions) {}

  /** Creates the stream (201), or confirms it exists with the same settings (200); 409 otherwise. */
  async create(path: string, options: CreateStreamOptions = {}): Promise<StreamInfo> {
    const contentType = options.contentType ?? "application/octet-stream";
    const response = await send(this.transport, {
      method: "PUT",
      path: streamPath(path),
      raw: { body: options.body ?? "", contentType },
      headers: options.ttlSeconds !== undefined ? { "Stream-TTL": String(options.ttlSeconds) } : {},
    });
    return info(response);
  }

  /** Appends bytes (or text, or for a JSON stream a JSON value); answers the new tail offset. */
  append(path: string, data: string | Uint8Array, options: { contentType?: string } = {}): Promise<string> {
    let writer = this.writers.get(path);
    if (!writer) {
      writer = { seq: 0, epoch: 0, tail: Promise.resolve() };
      this.writers.set(path, writer);
    }
    const w = writer;
    const result = w.tail.then(async () => {
      const seq = w.seq++;
      const response = await send(this.transport, {
        method: "POST",
        path: streamPath(path),
        raw: { body: data, contentType: options.contentType ?? (typeof data === "string" ? "text/plain" : "application/octet-stream") },
        headers: { "Producer-Id": this.producerId, "Producer-Epoch": String(w.epoch), "Producer-Seq": String(seq) },
      });
      return response.headers.get("Stream-Next-Offset") ?? "";
    });
    // A failed append leaves a gap the hub would refuse (409): start a new epoch after it.
    w.tail = result.catch(() => {
      w.epoch += 1;
      w.seq = 0;
    });
    return result;
  }

  /** A catch-up read from `offset` (default: the start). Call again with `nextOffset` until `upToDate`. */
  async read(path: string, options: { offset?: string } = {}): Promise<StreamChunk> {
    const query = new URLSearchParams({ offset: options.offset ?? "-1" });
    const response = await send(this.transport, { method: "GET", path: `${streamPath(path)}?${query}` });
    const meta = info(response);
    const data = isText(meta.contentType) ? await response.text() : new Uint8Array(await response.arrayBuffer());
    return { ...meta, data, upToDate: response.headers.get("Stream-Up-To-Date") === "true" };
  }

  /** The stream's content type and tail offset, or null when there is no such stream. */
  async head(path: string): Promise<StreamInfo | null> {
    const response = await send(this.transport, { method: "HEAD", path: streamPath(path), accept: [404] });
    return response.status === 404 ? null : info(response);
  }

  async delete(path: string): Promise<void> {
    await send(this.transport, { method: "DELETE", path: streamPath(path) });
    this.writers.delete(path);
  }
}
