// A hub's side of session control: what admits a socket beyond the hub's own rule (the
// per-channel cap, then the user's session registry with its deny-list and cross-channel
// cap), the token deadline a socket carries, the `auth` frame that moves it, and finding
// a user's sockets for a disconnect or a revocation.
import { type Identity, verifyUserToken } from "../auth/jwt";
import type { HubConfig } from "../config";
import { HubError } from "../errors";
import { log } from "../log";
import { CloseCode } from "../protocol";
import { AuthFrame } from "../schemas";
import { parseWith } from "../validation";
import type { Attachment, Connections, ConnectRequest, Refusal } from "./connections";
import type { Heartbeats } from "./heartbeat";

/** What the registry learns of the user from a joining socket's token: the name, and whom it watches. */
export interface SessionUser {
  name?: string;
  watch?: string[];
}

/** The user's session registry, as a hub calls it (the user's hub; UserHub answers for itself). */
export interface SessionRegistryStub {
  openSession(userId: string, channel: string, socketsHere: number, jti: string | null, user?: SessionUser): Promise<Refusal | null>;
  closeSession(channel: string): Promise<void>;
  checkToken(jti: string | null): Promise<Refusal | null>;
}

/**
 * A token's exp (real clock) as a deadline on the hub's clock, measured when the hub
 * learns it. In production both clocks are the same; a test clock moves the deadline with it.
 */
export function expOnHubClock(expiresAt: number | undefined, hubNow: number, realNow = Date.now()): number | undefined {
  return expiresAt === undefined ? undefined : hubNow + (expiresAt - realNow);
}

export interface SessionHost {
  readonly config: HubConfig;
  readonly sockets: Connections;
  readonly heartbeats: Heartbeats;
  now(): number;
  waitUntil(promise: Promise<unknown>): void;
  registry(userId: string): SessionRegistryStub;
  /** The hub's own admission rule, and what it records on the attachment (a room's `claim`). */
  admit(identity: Identity, channel: string): Refusal | null;
  attachmentExtras(identity: Identity, channel: string): Partial<Attachment>;
  /** Closes a socket from the hub's side and handles its leave (a disconnect or a revocation). */
  drop(ws: WebSocket, code: CloseCode, reason: string): void;
}

export class SessionControl {
  /** Users with a join in flight (awaiting the registry), so two at once cannot both pass the cap. */
  private readonly joining = new Map<string, number>();

  constructor(private readonly hub: SessionHost) {}

  /** Null admits; runs after the hub's own admit() said yes. */
  async admit(req: ConnectRequest): Promise<Refusal | null> {
    const userId = req.identity.id;
    const { maxSocketsPerChannel } = this.hub.config;
    const here = this.countOf(userId) + (this.joining.get(userId) ?? 0) + 1;
    if (here > maxSocketsPerChannel) {
      return { code: CloseCode.TooManyConnections, reason: `at most ${maxSocketsPerChannel} connections per user on one channel` };
    }
    this.joining.set(userId, (this.joining.get(userId) ?? 0) + 1);
    try {
      const { name, watch } = req.identity;
      const user: SessionUser = { ...(name !== undefined ? { name } : {}), ...(watch !== undefined ? { watch } : {}) };
      return await this.hub.registry(userId).openSession(userId, req.channel, here, req.identity.jti ?? null, user);
    } catch (err) {
      // Fail closed: the deny-list is behind this call. The client retries with backoff.
      log("session.registry_failed", { channel: req.channel, user: userId, error: String(err) });
      return { code: CloseCode.Internal, reason: "session registry unavailable; retry" };
    } finally {
      const left = (this.joining.get(userId) ?? 1) - 1;
      if (left > 0) this.joining.set(userId, left);
      else this.joining.delete(userId);
    }
  }

  /** What a new socket's attachment carries about its token. */
  attachmentFor(identity: Identity, channel: string): Partial<Attachment> {
    const exp = expOnHubClock(identity.expiresAt, this.hub.now());
    return {
      ...(exp !== undefined ? { exp } : {}),
      ...(identity.jti !== undefined ? { jti: identity.jti } : {}),
      ...this.hub.attachmentExtras(identity, channel),
    };
  }

  /** A socket left: the registry hears of it only when it was the user's last one here. */
  left(who: Attachment, channel: string): void {
    if (this.countOf(who.user.id, who.cid) === 0) this.tellRegistryGone(who.user.id, channel);
  }

  /** The registry admitted a socket that the hub then refused: it never opened here. */
  abandoned(userId: string, channel: string): void {
    if (this.countOf(userId) === 0) this.tellRegistryGone(userId, channel);
  }

  private tellRegistryGone(userId: string, channel: string): void {
    this.hub.waitUntil(
      this.hub
        .registry(userId)
        .closeSession(channel)
        .catch((err: unknown) => log("session.leave_failed", { channel, user: userId, error: String(err) })),
    );
  }

  /**
   * `{type:"auth", token}`: verified like an upgrade token, for the same user, still
   * admitted here, not revoked. Answers the ack's extra fields; throws a HubError otherwise.
   */
  async refresh(ws: WebSocket, who: Attachment, frame: unknown, channel: string): Promise<{ expires_at: string }> {
    const { token } = parseWith(AuthFrame, frame);
    const identity = await verifyUserToken(token, this.hub.config.jwt);
    if (identity.id !== who.user.id) throw new HubError("forbidden", "the token is for another user");
    const refusal = this.hub.admit(identity, channel);
    if (refusal) throw new HubError("forbidden", refusal.reason);
    const revoked = await this.hub.registry(identity.id).checkToken(identity.jti ?? null);
    if (revoked) throw new HubError(revoked.code === CloseCode.Forbidden ? "forbidden" : "unauthorized", revoked.reason);
    // The checks awaited: the socket may have gone meanwhile, and a closed one keeps no attachment.
    if (ws.readyState !== WebSocket.OPEN) throw new HubError("unauthorized", "the socket closed during the refresh");
    const { exp, jti, claim } = { jti: undefined, claim: undefined, ...this.attachmentFor(identity, channel) };
    this.hub.sockets.update(ws, { exp, jti, claim });
    if (exp !== undefined) this.hub.heartbeats.bringForward(exp + this.hub.config.tokenGraceMs);
    return { expires_at: new Date(identity.expiresAt ?? Date.now()).toISOString() };
  }

  /** Open sockets of `userId` (but `exceptCid`). */
  countOf(userId: string, exceptCid?: string): number {
    return this.hub.sockets.attachments().filter((who) => who.user.id === userId && who.cid !== exceptCid).length;
  }

  /** Closes the user's open sockets (those opened with token `jti` only, when given); answers how many. */
  closeUserSockets(userId: string, jti: string | null, code: CloseCode, reason: string): number {
    const sockets = this.hub.sockets.open().filter((ws) => {
      const who = this.hub.sockets.attachmentOf(ws);
      return who.user.id === userId && (jti === null || who.jti === jti);
    });
    for (const ws of sockets) this.hub.drop(ws, code, reason);
    return sockets.length;
  }
}
