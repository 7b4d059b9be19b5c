// The one registry of channel kinds: for each kind, the hub that serves it, its plural in
// producer routes, and whether its socket route names an id. Look-ups go through Maps, so
// a name like "constructor" or "__proto__" is simply unknown, never an inherited property.
import type { Outcome } from "./errors";
import type { ChannelStats } from "./hub/counters";
import type { ChannelKind, CloseCode } from "./protocol";
import type { Requeue } from "./webhooks/channel-webhooks";

/** What the Worker calls on a hub of any kind. */
export interface HubStub {
  fetch(request: Request): Promise<Response>;
  channelStats(): Promise<Outcome<ChannelStats>>;
  /** The session registry's questions: how many sockets a user holds there, and closing them. */
  userSockets(userId: string): Promise<number>;
  closeUserSockets(userId: string, jti: string | null, code: CloseCode, reason: string): Promise<number>;
  requeueWebhook(entry: Requeue): Promise<Outcome<{ requeued: true }>>;
}

export interface ChannelKindSpec {
  kind: ChannelKind;
  /** The plural in routes: /v1/jobs/:id/stats. */
  plural: string;
  /** User sockets take no id: the channel is the token's own user (`/v1/ws/user`). */
  idFromToken: boolean;
  /** The hub object that serves channel `kind:id`. */
  hub(env: Env, id: string): HubStub;
}

const SPECS: readonly ChannelKindSpec[] = [
  { kind: "user", plural: "users", idFromToken: true, hub: (env, id) => env.USER_HUB.getByName(id) },
  { kind: "job", plural: "jobs", idFromToken: false, hub: (env, id) => env.JOB_HUB.getByName(id) },
  { kind: "room", plural: "rooms", idFromToken: false, hub: (env, id) => env.ROOM_HUB.getByName(id) },
  { kind: "batch", plural: "batches", idFromToken: false, hub: (env, id) => env.BATCH_HUB.getByName(id) },
];
const byKind = new Map(SPECS.map((spec) => [spec.kind as string, spec]));
const byPlural = new Map(SPECS.map((spec) => [spec.plural, spec]));

/** The kind named `kind` ("job"), or undefined for anything else. */
export function kindNamed(kind: string): ChannelKindSpec | undefined {
  return byKind.get(kind);
}

/** The kind whose routes use `plural` ("jobs"), or undefined. */
export function kindByPlural(plural: string): ChannelKindSpec | undefined {
  return byPlural.get(plural);
}

export function channelName(kind: ChannelKind, id: string): string {
  return `${kind}:${id}`;
}

/**
 * Splits "room:campaign:1" at its first colon into its kind and the raw id
 * ("campaign:1"); the id is not validated here. Undefined when the kind is unknown.
 */
export function splitChannel(channel: string): { spec: ChannelKindSpec; rawId: string } | undefined {
  const colon = channel.indexOf(":");
  const spec = colon < 0 ? undefined : byKind.get(channel.slice(0, colon));
  return spec ? { spec, rawId: channel.slice(colon + 1) } : undefined;
}

/** What the session registry asks of the object holding a user's sockets on one of its entries. */
export type SocketHolder = Pick<HubStub, "userSockets" | "closeUserSockets">;

/** Stream sockets sit in the session registry as `stream:<path>`; streams are not a channel kind. */
const STREAM_ENTRY = "stream:";

export function streamEntry(path: string): string {
  return `${STREAM_ENTRY}${path}`;
}

/**
 * The object holding the user's sockets on a session-registry entry: a channel's hub
 * ("room:42"), or a stream's object ("stream:jobs/1/output"). Undefined when neither.
 */
export function socketHolder(env: Env, entry: string): SocketHolder | undefined {
  if (entry.startsWith(STREAM_ENTRY)) return env.STREAM_HUB.getByName(entry.slice(STREAM_ENTRY.length));
  const target = splitChannel(entry);
  return target?.spec.hub(env, target.rawId);
}
