// /v1/stream/<path>: the Durable Streams protocol. The Worker authenticates, checks the
// path and every header, decides who may read, and forwards one StreamOperation (with
// the body still streaming) to the path's StreamHub. Bad input never reaches an object.
import { Hono } from "hono";
import { cors } from "hono/cors";
import { createMiddleware } from "hono/factory";
import { isOriginAllowed } from "../auth/origin";
import { HubError } from "../errors";
import { type AppContext, type AppEnv, discardBody, producerOrUser } from "../http";
import { readAccess } from "../streams/access";
import { H, parseAppend, parseCreate, parseRead } from "../streams/headers";
import { operationRequest, type StreamOperation } from "../streams/operation";
import { parseStreamPath, STREAM_ROUTE_PREFIX } from "../streams/paths";

export const streamRoutes = new Hono<AppEnv>();

/** CORS for browsers reading with `Authorization: Bearer <jwt>` (and producers' own pages). */
export const streamCors = cors({
  origin: (origin, c) => (isOriginAllowed(origin, c.get("config").allowedOrigins) ? origin : null),
  allowMethods: ["GET", "HEAD", "PUT", "POST", "DELETE"],
  allowHeaders: [
    "Authorization",
    "Content-Type",
    "If-None-Match",
    H.seq,
    H.ttl,
    H.expiresAt,
    H.closed,
    H.forkedFrom,
    H.forkOffset,
    H.forkSubOffset,
    H.producerId,
    H.producerEpoch,
    H.producerSeq,
    H.readers,
  ],
  exposeHeaders: [
    H.nextOffset,
    H.upToDate,
    H.cursor,
    H.closed,
    H.ttl,
    H.expiresAt,
    H.sseEncoding,
    H.producerEpoch,
    H.producerSeq,
    H.producerExpectedSeq,
    H.producerReceivedSeq,
    "ETag",
    "Location",
  ],
  maxAge: 600,
});

// Protocol section 10.7, on every answer (errors included): no MIME sniffing, and fetch()
// from other origins is allowed (CORS still decides who may read the response).
streamRoutes.use("/stream/*", async (c, next) => {
  c.header("X-Content-Type-Options", "nosniff");
  c.header("Cross-Origin-Resource-Policy", "cross-origin");
  await next();
});

const refuseOrigin = createMiddleware<AppEnv>(async (c, next) => {
  if (!isOriginAllowed(c.req.header("Origin"), c.get("config").allowedOrigins)) throw new HubError("forbidden", "origin not allowed");
  await next();
});

// Hono answers HEAD with its GET route (and drops the body), so GET sees both.
streamRoutes.on(["GET", "PUT", "POST", "DELETE"], "/stream/*", refuseOrigin, (c) => forward(c));
streamRoutes.all("/stream/*", (c) => {
  c.header("Allow", "GET, HEAD, PUT, POST, DELETE");
  throw new HubError("method_not_allowed", "streams take GET, HEAD, PUT, POST and DELETE");
});

async function operationFor(c: AppContext, url: URL): Promise<StreamOperation> {
  const { path, scope } = parseStreamPath(url.pathname.slice(STREAM_ROUTE_PREFIX.length));
  const headers = c.req.raw.headers;
  const caller = await producerOrUser(c);
  const method = c.req.method;
  if (method === "GET" || method === "HEAD") {
    const access = caller === null ? { kind: "admitted" as const } : await readAccess(c.env, scope, caller);
    return method === "HEAD" ? { op: "head", path, access } : { op: "read", path, access, spec: parseRead(url.searchParams, headers) };
  }
  if (caller !== null) throw new HubError("forbidden", "clients read streams; only producers write to them");
  if (method === "DELETE") return { op: "delete", path };
  const limit = c.get("config").streams.maxAppendBytes;
  if (Number(headers.get("Content-Length")) > limit) throw new HubError("payload_too_large", `an append is at most ${limit} bytes`);
  if (method === "POST") return { op: "append", path, spec: parseAppend(headers) };
  const spec = parseCreate(headers);
  if (spec.readers !== undefined && scope.kind !== "granted") {
    throw new HubError(
      "validation_failed",
      `${H.readers} is for paths outside jobs/, users/ and rooms/, which follow their channel's rules`,
    );
  }
  return { op: "create", path, url: `${url.origin}${url.pathname}`, spec };
}

async function forward(c: AppContext): Promise<Response> {
  const url = new URL(c.req.url);
  let op: StreamOperation;
  try {
    op = await operationFor(c, url);
  } catch (err) {
    // Refused before its body was read: read it to the end, so the client sees the answer.
    await discardBody(c.req.raw.body);
    throw err;
  }
  // A write's body goes to the object as the client sends it (the runtime pumps it, no JS
  // in between). The object reads every body to its end, even one it refuses unread.
  const body = op.op === "create" || op.op === "append" ? c.req.raw.body : null;
  const request = operationRequest(op, body);
  return c.env.STREAM_HUB.getByName(op.path).fetch(request);
}
