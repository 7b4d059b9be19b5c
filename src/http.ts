// Request plumbing shared by the routes: auth middleware and body parsing.
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type * as v from "valibot";
import { noteAuthFailure, refuseIfBlocked } from "./auth/auth-failures";
import { type Identity, verifyUserToken } from "./auth/jwt";
import { bearerToken, isProducerKey, requireProducer } from "./auth/producer";
import { limitProducer } from "./auth/rate-limits";
import { concatBytes } from "./bytes";
import type { HubConfig } from "./config";
import { HubError } from "./errors";
import { parseWith } from "./validation";

export type AppEnv = {
  Bindings: Env;
  Variables: { config: HubConfig; identity: Identity };
};
export type AppContext = Context<AppEnv>;

export const producerOnly = createMiddleware<AppEnv>(async (c, next) => {
  refuseIfBlocked(c.req.raw);
  const key = await countingFailures(c, () => requireProducer(c.req.header("Authorization"), c.get("config").producerKeys));
  await limitProducer(c.env, key);
  await next();
});

/** Failed authentication on a route that takes producer keys counts against the client's address. */
async function countingFailures<T>(c: AppContext, authenticate: () => Promise<T>): Promise<T> {
  try {
    return await authenticate();
  } catch (err) {
    if (err instanceof HubError && err.code === "unauthorized") await noteAuthFailure(c.env, c.req.raw);
    throw err;
  }
}

export const userOnly = createMiddleware<AppEnv>(async (c, next) => {
  c.set("identity", await userFromHeader(c));
  await next();
});

async function userFromHeader(c: AppContext): Promise<Identity> {
  const token = bearerToken(c.req.header("Authorization"));
  if (!token) throw new HubError("unauthorized", "a user token is required (Authorization: Bearer <jwt>)");
  return verifyUserToken(token, c.get("config").jwt);
}

/**
 * For routes open to producers and users alike: null means a producer. A token that is
 * neither a key nor a valid JWT counts as a failed attempt: these routes answer a key
 * guess as surely as producer-only ones.
 */
export async function producerOrUser(c: AppContext): Promise<Identity | null> {
  refuseIfBlocked(c.req.raw);
  const token = bearerToken(c.req.header("Authorization"));
  if (token && (await isProducerKey(token, c.get("config").producerKeys))) {
    await limitProducer(c.env, token);
    return null;
  }
  return countingFailures(c, () => userFromHeader(c));
}

/**
 * Reads a JSON body within the size limit and validates it; every failure is a HubError.
 * The body must say it is JSON: a form or text/plain post (what a cross-site page can
 * send without a preflight) is refused with 415 before it is read.
 */
export async function readJson<S extends v.GenericSchema>(c: AppContext, schema: S): Promise<v.InferOutput<S>> {
  if (!isJsonMediaType(c.req.header("Content-Type"))) {
    throw new HubError("unsupported_media_type", "Content-Type must be application/json");
  }
  const text = await readText(c.req.raw, c.get("config").maxBodyBytes);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new HubError("validation_failed", "body is not valid JSON");
  }
  return parseWith(schema, body);
}

/** `application/json`, with at most a `charset=utf-8` parameter. */
function isJsonMediaType(header: string | undefined): boolean {
  if (header === undefined) return false;
  const [type, ...params] = header.split(";").map((part) => part.trim().toLowerCase());
  if (type !== "application/json") return false;
  return params.every((param) => param === "" || param === "charset=utf-8" || param === 'charset="utf-8"');
}

async function readText(request: Request, limit: number): Promise<string> {
  const bytes = await readBytes(request, limit);
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw new HubError("validation_failed", "body is not valid UTF-8");
  }
}

/** A request body of at most `limit` bytes, counted as they arrive; 413 beyond. */
export async function readBytes(request: Request, limit: number): Promise<Uint8Array> {
  const tooLarge = () => new HubError("payload_too_large", `body larger than ${limit} bytes`);
  const declared = Number(request.headers.get("Content-Length"));
  if (declared > limit) {
    await discardBody(request.body);
    throw tooLarge();
  }
  if (!request.body) return new Uint8Array(0);
  // A declared length within the limit is what the runtime delivers (the body ends there),
  // so one read does; the size is still checked on what arrived.
  if (declared > 0) {
    const bytes = new Uint8Array(await request.arrayBuffer());
    if (bytes.byteLength > limit) throw tooLarge();
    return bytes;
  }
  // Without a length (chunked), count what actually arrives.
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await discard(reader, size);
      throw tooLarge();
    }
    chunks.push(value);
  }
  return concatBytes(chunks);
}

/**
 * Many HTTP clients (and proxies) cannot read an answer that arrives while they are still
 * uploading: they see a reset instead of the 413. So a refused body is read to its end
 * and dropped, up to this much; a larger one is cut off.
 */
const DISCARD_LIMIT_BYTES = 16 * 1_048_576;

/** Reads the rest of a refused body without keeping it (see DISCARD_LIMIT_BYTES). */
export async function discardBody(body: ReadableStream<Uint8Array> | null): Promise<void> {
  if (body && !body.locked) await discard(body.getReader(), 0);
}

async function discard(reader: ReadableStreamDefaultReader<Uint8Array>, alreadyRead: number): Promise<void> {
  let size = alreadyRead;
  try {
    while (size <= DISCARD_LIMIT_BYTES) {
      const { done, value } = await reader.read();
      if (done) return;
      size += value.byteLength;
    }
    await reader.cancel();
  } catch {
    // The client went away: nothing left to read.
  }
}
