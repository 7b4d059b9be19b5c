import { Hono } from "hono";
import type { Identity } from "../auth/jwt";
import { isOriginAllowed } from "../auth/origin";
import { allowUpgrade, UPGRADE_PERIOD_S } from "../auth/rate-limits";
import { redeemTicketIn, socketIdentity } from "../auth/socket-auth";
import { channelName, kindNamed } from "../channel-kinds";
import { HubError } from "../errors";
import type { AppContext, AppEnv } from "../http";
import { CLIENT_KEY } from "../hub/client-refs";
import { CONNECT_HEADER, type ConnectRequest } from "../hub/connections";
import { newId, parseId } from "../ids";
import { log } from "../log";
import { CloseCode, STREAM_SOCKET_PREFIX, SUBPROTOCOL } from "../protocol";
import { CONNECT_URL, noteAdvertisement, ROUTE_HEADER, roomTarget } from "../rooms/room-router";
import { readAccess } from "../streams/access";
import { readFromQuery } from "../streams/headers";
import { operationRequest, type ReadAccess, type StreamOperation } from "../streams/operation";
import { parseStreamPath } from "../streams/paths";
import { offeredSubprotocols, refuseSocket } from "../websocket";

export const socketRoutes = new Hono<AppEnv>();

// Sockets are forwarded to the hub untouched (no cors or header-editing middleware: a
// 101 response is immutable), and accepted there so the hub can hibernate.
socketRoutes.get("/ws/user", (c) => connect(c, "user"));
socketRoutes.get("/ws/stream/*", (c) => watchStream(c));
socketRoutes.get("/ws/:kind/:id", (c) => connect(c, c.req.param("kind"), c.req.param("id")));

/** A socket the Worker admitted: who it is, whether to echo the subprotocol, and what its URL named. */
export interface AdmittedSocket<T> {
  identity: Identity;
  echo: boolean;
  target: T;
}

/**
 * The checks every socket route makes, in this order: the ticket burned first, the
 * upgrade, the origin, the route's own parameters (`parse`, which throws a 400), the
 * per-address upgrade rate, the token. A refusal for rate or auth is a socket closed at
 * once with the code (so a browser can read it); anything else an HTTP error.
 */
export async function admitSocket<T>(c: AppContext, what: string, parse: (url: URL) => T): Promise<AdmittedSocket<T> | Response> {
  const request = c.req.raw;
  const config = c.get("config");
  const url = new URL(request.url);
  const ticket = await redeemTicketIn(url, c.env, config);
  if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
    throw new HubError("upgrade_required", "this route takes a WebSocket upgrade");
  }
  const origin = request.headers.get("Origin");
  if (!isOriginAllowed(origin, config.allowedOrigins)) {
    log("socket.refused", { socket: what, reason: "origin", origin });
    throw new HubError("forbidden", "origin not allowed");
  }
  const target = parse(url);
  const offered = offeredSubprotocols(request);
  const echo = offered.includes(SUBPROTOCOL);
  if (!(await allowUpgrade(c.env, request))) {
    log("socket.refused", { socket: what, code: CloseCode.RateLimited, reason: "upgrade rate" });
    return refuseSocket(CloseCode.RateLimited, `too many connections from this address; retry in ${UPGRADE_PERIOD_S} s`, echo);
  }
  try {
    return { identity: await socketIdentity(request, offered, ticket, config), echo, target };
  } catch (err) {
    if (!(err instanceof HubError) || err.code !== "unauthorized") throw err;
    log("socket.refused", { socket: what, code: CloseCode.Unauthorized, reason: err.message });
    return refuseSocket(CloseCode.Unauthorized, err.message, echo);
  }
}

async function connect(c: AppContext, kind: string, rawId?: string): Promise<Response> {
  const admitted = await admitSocket(c, `${kind}/${rawId ?? ""}`, (url) => {
    const spec = kindNamed(kind);
    // A user socket is always the token's own user: /v1/ws/user, never /v1/ws/user/:id.
    if (!spec || spec.idFromToken !== (rawId === undefined)) throw new HubError("not_found", `no socket route for channel kind "${kind}"`);
    const id = spec.idFromToken ? undefined : parseId(rawId, `${kind} id`);
    return { spec, id, resume: parseResume(url) };
  });
  if (admitted instanceof Response) return admitted;
  const { identity, echo, target } = admitted;
  const { spec } = target;
  const channelId = target.id ?? identity.id;
  const cid = newId();
  const connectRequest: ConnectRequest = { channel: channelName(spec.kind, channelId), identity, ...target.resume, subprotocol: echo, cid };
  // A big room's sockets may go to its shards, placed from the room's last advertisement.
  const room = spec.kind === "room" ? await roomTarget(c.env, channelId, cid) : undefined;
  if (room === null) return refuseSocket(CloseCode.TooManyConnections, "this room is full", echo);
  // Header values must be Latin-1; a display name may not be, so the JSON is URI-encoded.
  const forwarded = new Request(room?.url ?? CONNECT_URL, {
    headers: { Upgrade: "websocket", [CONNECT_HEADER]: encodeURIComponent(JSON.stringify(connectRequest)) },
  });
  const response = await (room?.stub ?? spec.hub(c.env, channelId)).fetch(forwarded);
  if (room?.root) noteAdvertisement(channelId, response.headers.get(ROUTE_HEADER), Date.now());
  return response;
}

/** Live mode on a stream: the path's read rule (jobs/, users/, rooms/, Dovetail-Readers), then its object. */
async function watchStream(c: AppContext): Promise<Response> {
  const admitted = await admitSocket(c, "stream", (url) => ({
    ...parseStreamPath(url.pathname.slice(STREAM_SOCKET_PREFIX.length)),
    from: readFromQuery(url.searchParams),
  }));
  if (admitted instanceof Response) return admitted;
  const { identity, echo, target } = admitted;
  let access: ReadAccess;
  try {
    access = await readAccess(c.env, target.scope, identity);
  } catch (err) {
    if (!(err instanceof HubError) || err.code !== "forbidden") throw err;
    return refuseSocket(CloseCode.Forbidden, err.message, echo);
  }
  const operation: StreamOperation = { op: "watch", path: target.path, access, spec: { from: target.from, identity, subprotocol: echo } };
  return c.env.STREAM_HUB.getByName(target.path).fetch(operationRequest(operation));
}

function parseResume(url: URL): { since?: number; epoch?: string; client?: string } {
  const since = url.searchParams.get("since");
  const epoch = url.searchParams.get("epoch");
  const client = url.searchParams.get("client");
  const resume: { since?: number; epoch?: string; client?: string } = {};
  if (client !== null) {
    if (!CLIENT_KEY.test(client)) throw new HubError("validation_failed", "client must be 8-64 characters of A-Z a-z 0-9 _ -");
    resume.client = client;
  }
  if (since !== null) {
    if (!/^\d{1,15}$/.test(since)) throw new HubError("validation_failed", "since must be a non-negative integer");
    resume.since = Number(since);
  }
  if (epoch !== null) {
    if (!/^[A-Za-z0-9]{1,64}$/.test(epoch)) throw new HubError("validation_failed", "epoch is not valid");
    resume.epoch = epoch;
  }
  return resume;
}
