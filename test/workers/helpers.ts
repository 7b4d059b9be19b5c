// Test harness: a producer that POSTs, a browser-like socket that records frames, and
// token minting with the test secret. Every wait has a timeout and says what it expected.
import { env, exports } from "cloudflare:workers";
import { SignJWT } from "jose";
import type { ServerFrame } from "../../src/protocol";

export const PRODUCER_KEY = "test_producer_key_primary_0123456789";
export const ROTATED_PRODUCER_KEY = "test_producer_key_rotated_0123456789";
/** Used only by the producer rate-limit test, so its budget is its own. */
export const LIMITS_PRODUCER_KEY = "test_producer_key_limits_01234567890";
/** Used only by the batch interleavings, one per chunk of seeds: together they post more than one key's edge budget. */
export const interleavingsProducerKey = (chunk: number): string => `test_producer_key_interleavings_${chunk}_0123`;
export const BASE = "https://hub.test";

let counter = 0;
/** A channel id of its own for each test, so tests never see each other's state. */
export function uniqueId(prefix = "t"): string {
  counter += 1;
  return `${prefix}-${Date.now().toString(36)}-${counter}-${Math.random().toString(36).slice(2, 8)}`;
}

export interface TokenOptions {
  name?: string;
  rooms?: string[];
  expiresIn?: string | number;
  audience?: string;
  secret?: string;
  notBefore?: string | number;
  issuer?: string;
  claims?: Record<string, unknown>;
}

export async function mintToken(sub: string, options: TokenOptions = {}): Promise<string> {
  const jwt = new SignJWT({
    ...(options.name ? { name: options.name } : {}),
    ...(options.rooms ? { rooms: options.rooms } : {}),
    ...options.claims,
  })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(sub)
    .setIssuedAt()
    .setAudience(options.audience ?? "dovetail-test")
    .setExpirationTime(options.expiresIn ?? "10m");
  if (options.notBefore !== undefined) jwt.setNotBefore(options.notBefore);
  if (options.issuer !== undefined) jwt.setIssuer(options.issuer);
  return jwt.sign(new TextEncoder().encode(options.secret ?? (env.JWT_SECRET as string)));
}

/** A request through the Worker, from a client address of its own unless the test names one. */
export function call(path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (!headers.has("CF-Connecting-IP")) headers.set("CF-Connecting-IP", randomIp());
  return exports.default.fetch(new Request(`${BASE}${path}`, { ...init, headers }));
}

/** A producer's POST (or any method) with the producer key and a JSON body. */
export function produce(path: string, body?: unknown, init: RequestInit & { key?: string } = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set("Authorization", `Bearer ${init.key ?? PRODUCER_KEY}`);
  if (body !== undefined) headers.set("Content-Type", "application/json");
  return call(path, {
    method: init.method ?? "POST",
    ...init,
    headers,
    ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
  });
}

export async function produceOk<T = Record<string, unknown>>(
  path: string,
  body?: unknown,
  init?: RequestInit & { key?: string },
): Promise<T> {
  const res = await produce(path, body, init);
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${init?.method ?? "POST"} ${path} answered ${res.status}: ${text}`);
  return JSON.parse(text) as T;
}

export async function createJob(owner: string, extra: Record<string, unknown> = {}): Promise<string> {
  const id = (extra.id as string | undefined) ?? uniqueId("job");
  await produceOk("/v1/jobs", { id, owner, ...extra });
  return id;
}

const rnd = () => Math.floor(Math.random() * 256);
/** Random addresses, so tests never share an edge budget (upgrades, failed keys). */
export const randomIp = () => `10.${rnd()}.${rnd()}.${rnd()}`;

export interface ConnectOptions {
  token?: string;
  /** How to send the token: subprotocol (default), header, or none. */
  via?: "subprotocol" | "header";
  origin?: string;
  query?: Record<string, string | number>;
  /** The client address the edge would report; random by default so tests never share an upgrade budget. */
  ip?: string;
}

export async function connect(path: string, options: ConnectOptions = {}): Promise<TestSocket> {
  const headers = new Headers({ Upgrade: "websocket" });
  const protocols = ["dovetail.v1"];
  if (options.token) {
    if (options.via === "header") headers.set("Authorization", `Bearer ${options.token}`);
    else protocols.push(`bearer.${options.token}`);
  }
  headers.set("Sec-WebSocket-Protocol", protocols.join(", "));
  if (options.origin) headers.set("Origin", options.origin);
  headers.set("CF-Connecting-IP", options.ip ?? randomIp());
  const url = new URL(`${BASE}${path}`);
  for (const [k, v] of Object.entries(options.query ?? {})) url.searchParams.set(k, String(v));
  const res = await exports.default.fetch(new Request(url, { headers }));
  if (res.status !== 101 || !res.webSocket) {
    throw new UpgradeRefused(res.status, await res.text());
  }
  return new TestSocket(res.webSocket, res.headers.get("Sec-WebSocket-Protocol"));
}

export class UpgradeRefused extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`upgrade refused with ${status}: ${body}`);
  }
}

export type Frame = ServerFrame<string, any>;

export class TestSocket {
  readonly frames: Frame[] = [];
  private cursor = 0;
  private waiters: (() => void)[] = [];
  close?: { code: number; reason: string };

  constructor(
    readonly ws: WebSocket,
    readonly protocol: string | null,
  ) {
    ws.accept();
    ws.addEventListener("message", (event) => {
      this.frames.push(JSON.parse(event.data as string));
      this.wake();
    });
    ws.addEventListener("close", (event) => {
      this.close = { code: event.code, reason: event.reason };
      this.wake();
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private async until<T>(check: () => T | undefined, what: string, timeoutMs = 5_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = check();
      if (found !== undefined) return found;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `timed out after ${timeoutMs} ms waiting for ${what}; frames so far: ${JSON.stringify(this.frames.map((f) => f.type))}`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The next unread frame (of `type`, if given; frames of other types are skipped). */
  next(type?: string, timeoutMs?: number): Promise<Frame> {
    return this.until(
      () => {
        while (this.cursor < this.frames.length) {
          const frame = this.frames[this.cursor++] as Frame;
          if (!type || frame.type === type) return frame;
        }
        return undefined;
      },
      type ? `a "${type}" frame` : "a frame",
      timeoutMs,
    );
  }

  /** The next `count` unread frames, in order, of any type. */
  async take(count: number, timeoutMs?: number): Promise<Frame[]> {
    const out: Frame[] = [];
    for (let i = 0; i < count; i++) out.push(await this.next(undefined, timeoutMs));
    return out;
  }

  closed(timeoutMs?: number): Promise<{ code: number; reason: string }> {
    return this.until(() => this.close, "the socket to close", timeoutMs);
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === "string" ? frame : JSON.stringify(frame));
  }

  /** Sends a frame and waits for the ack or error that carries its ref. */
  async request(frame: Record<string, unknown>): Promise<Frame> {
    const ref = uniqueId("ref");
    this.send({ ...frame, ref });
    return this.until(
      () => this.frames.find((f) => (f.type === "ack" || f.type === "error") && f.data?.ref === ref),
      `a reply to ref ${ref}`,
    );
  }

  /** Frames received so far that carry a seq, in arrival order. */
  logged(): Frame[] {
    return this.frames.filter((f) => f.seq !== undefined);
  }

  hangUp(code = 1000): void {
    try {
      this.ws.close(code, "test done");
    } catch {}
  }
}

/** A new job of a new owner, watched by `count` of the owner's sockets (their `connected` read). */
export async function jobWithSockets(count: number): Promise<{ job: string; owner: string; sockets: TestSocket[] }> {
  const owner = uniqueId("alice");
  const job = await createJob(owner);
  const token = await mintToken(owner);
  const sockets: TestSocket[] = [];
  for (let i = 0; i < count; i++) {
    const socket = await connect(`/v1/ws/job/${job}`, { token });
    await socket.next("connected");
    sockets.push(socket);
  }
  return { job, owner, sockets };
}
