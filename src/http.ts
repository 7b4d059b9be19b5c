// Request plumbing shared by the routes: auth middleware and body parsing.
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type * as v from "valibot";
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
  const key = await requireProducer(c.req.header("Authorization"), c.get("config").producerKeys);
  await limitProducer(c.env, key);
  await next();
});

export const userOnly = createMiddleware<AppEnv>(async (c, next) => {
  c.set("identity", await userFromHeader(c));
  await next();
});

async function userFromHeader(c: AppContext): Promise<Identity> {
  const token = bearerToken(c.req.header("Authorization"));
  if (!token) throw new HubError("unauthorized", "a user token is required (Authorization: Bearer <jwt>)");
  return verifyUserToken(token, c.get("config").jwt);
}

/** For routes open to producers and users alike: null means a producer. */
export async function producerOrUser(c: AppContext): Promise<Identity | null> {
  const token = bearerToken(c.req.header("Authorization"));
  if (token && (await isProducerKey(token, c.get("config").producerKeys))) {
    await limitProducer(c.env, token);
    return null;
  }
  return userFromHeader(c);
}

/** Reads a JSON body within the size limit and validates it; every failure is a HubError. */
export async function readJson<S extends v.GenericSchema>(c: AppContext, schema: S): Promise<v.InferOutput<S>> {
  const text = await readText(c.req.raw, c.get("config").maxBodyBytes);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new HubError("validation_failed", "body is not valid JSON");
  }
  return parseWith(schema, body);
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
  if (declared > limit) throw tooLarge();
  if (!request.body) return new Uint8Array(0);
  // Content-Length can be absent (chunked) or wrong: count what actually arrives.
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  return concatBytes(chunks);
}
