// A backend's webhook endpoint for the tests: a real Node HTTP server on 127.0.0.1 that
// checks every request with the `standardwebhooks` package (a verifier nobody here wrote)
// and answers whatever status the test chooses.
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";

export interface ReceivedWebhook {
  id: string;
  timestamp: number;
  headers: Record<string, string>;
  body: string;
  payload: any;
  /** Why standardwebhooks refused it, or null when it verified. */
  refusal: string | null;
  /** performance.now() when the request was complete. */
  at: number;
  /** What the receiver answered. */
  status: number;
}

export interface Receiver {
  url: string;
  /** Every request, in arrival order. */
  received: ReceivedWebhook[];
  /** Chooses the status for a request; the default answers 204 to everything. */
  respond: (webhook: ReceivedWebhook, attemptOfThisId: number) => number;
  /** Requests answered 2xx, optionally for one channel (and one type) only. */
  delivered(channel?: string, type?: string): ReceivedWebhook[];
  /** Every attempt for one channel (and one type), answered or not. */
  attempts(channel: string, type?: string): ReceivedWebhook[];
  until<T>(what: string, check: () => T | undefined | false, timeoutMs?: number): Promise<T>;
  close(): Promise<void>;
}

export async function startReceiver(secret: string): Promise<Receiver> {
  const verifier = new Webhook(secret);
  const waiters = new Set<() => void>();
  const receiver: Receiver = {
    url: "",
    received: [],
    respond: () => 204,
    delivered: (channel, type) => receiver.received.filter((w) => w.status < 300 && matches(w, channel, type)),
    attempts: (channel, type) => receiver.received.filter((w) => matches(w, channel, type)),
    until: (what, check, timeoutMs = 10_000) =>
      new Promise((resolve, reject) => {
        const test = () => {
          const value = check();
          if (value === undefined || value === false) return false;
          clearTimeout(timer);
          waiters.delete(test);
          resolve(value);
          return true;
        };
        const timer = setTimeout(() => {
          waiters.delete(test);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; got ${summary(receiver.received)}`));
        }, timeoutMs);
        if (!test()) waiters.add(test);
      }),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  const server = createServer(async (req, res) => {
    const body = await readBody(req);
    const headers = req.headers as Record<string, string>;
    let refusal: string | null = null;
    try {
      verifier.verify(body, headers);
    } catch (err) {
      refusal = String(err);
    }
    let payload: any;
    try {
      payload = JSON.parse(body);
    } catch {
      payload = undefined;
    }
    const webhook: ReceivedWebhook = {
      id: headers["webhook-id"] ?? "",
      timestamp: Number(headers["webhook-timestamp"]),
      headers,
      body,
      payload,
      refusal,
      at: performance.now(),
      status: 0,
    };
    const attempt = receiver.received.filter((w) => w.id === webhook.id).length + 1;
    webhook.status = receiver.respond(webhook, attempt);
    receiver.received.push(webhook);
    res.writeHead(webhook.status).end();
    for (const waiter of [...waiters]) waiter();
  });
  server.keepAliveTimeout = 1_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
  return receiver;
}

function matches(w: ReceivedWebhook, channel?: string, type?: string): boolean {
  return (channel === undefined || w.payload?.channel === channel) && (type === undefined || w.payload?.type === type);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function summary(received: ReceivedWebhook[]): string {
  return JSON.stringify(received.slice(-20).map((w) => [w.payload?.type, w.payload?.channel, w.status, w.refusal]));
}
