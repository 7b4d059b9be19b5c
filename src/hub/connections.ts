// A hub's sockets: accepting them with their attachment, the open-socket list, broadcast,
// and closing from the server side. Everything it knows lives on the sockets themselves
// (attachments survive hibernation), so a hub that wakes up has lost nothing.
import type { Identity } from "../auth/jwt";
import { HubError } from "../errors";
import type { CloseCode, UserRef } from "../protocol";
import { closeQuietly } from "../websocket";
import type { Liveness } from "./heartbeat";

/** What the Worker tells a hub about a socket it has already authenticated. */
export interface ConnectRequest {
  channel: string;
  identity: Identity;
  since?: number;
  epoch?: string;
  /** The client's key for exactly-once sends across reconnects (see ClientRefs). */
  client?: string;
  subprotocol: boolean;
  /** The connection id, when the Worker picked it (it placed a room socket by its hash). */
  cid?: string;
}
/** The request header that carries a ConnectRequest from the Worker to the hub. */
export const CONNECT_HEADER = "x-dovetail-connect";

/** Why a hub turns a socket away: the close code and reason the client reads. */
export interface Refusal {
  code: CloseCode;
  reason: string;
}

/** The ConnectRequest the Worker forwarded, or the HubError to answer a request that is not one. */
export function readConnectRequest(request: Request): ConnectRequest | HubError {
  if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket")
    return new HubError("upgrade_required", "expected a WebSocket upgrade");
  const header = request.headers.get(CONNECT_HEADER);
  if (!header) return new HubError("internal", "missing connect request");
  return JSON.parse(decodeURIComponent(header)) as ConnectRequest;
}

/** Kept on each socket with serializeAttachment, so it survives hibernation (16 KiB max). */
export interface Attachment extends Liveness {
  cid: string;
  user: UserRef;
  at: number;
  client?: string;
  /** When the socket's token expires, on the hub's clock (ms); it closes with 4001 after a grace. */
  exp?: number;
  /** The token's `jti`, for revocation by token id. */
  jti?: string;
  /** Admitted by the token's `rooms` claim, which a room PUT cannot take away. */
  claim?: true;
  /** Set when the hub closed this socket itself, so its leave is not handled twice. */
  left?: true;
}

export class Connections {
  constructor(private readonly ctx: DurableObjectState) {}

  accept(ws: WebSocket, who: Attachment): void {
    this.ctx.acceptWebSocket(ws);
    ws.serializeAttachment(who);
  }

  attachmentOf(ws: WebSocket): Attachment {
    return ws.deserializeAttachment() as Attachment;
  }

  update(ws: WebSocket, change: Partial<Attachment>): void {
    ws.serializeAttachment({ ...this.attachmentOf(ws), ...change });
  }

  /** Open sockets only: getWebSockets() also returns ones that are closing. */
  open(): WebSocket[] {
    return this.ctx.getWebSockets().filter((ws) => ws.readyState === WebSocket.OPEN);
  }

  count(): number {
    return this.open().length;
  }

  attachments(): Attachment[] {
    return this.open().map((ws) => this.attachmentOf(ws));
  }

  /** The open sockets, split into those `except` picks and the rest. */
  split(except?: (who: Attachment) => boolean): { to: WebSocket[]; excepted: WebSocket[] } {
    const to: WebSocket[] = [];
    const excepted: WebSocket[] = [];
    for (const ws of this.open()) (except?.(this.attachmentOf(ws)) ? excepted : to).push(ws);
    return { to, excepted };
  }

  /**
   * Sends one string to every open socket but those `except` picks, which get `instead`
   * when given; returns how many got `frame`.
   */
  broadcast(frame: string, except?: (who: Attachment) => boolean, instead?: string): number {
    let sent = 0;
    for (const ws of this.ctx.getWebSockets()) {
      if (ws.readyState !== WebSocket.OPEN) continue;
      if (except?.(this.attachmentOf(ws))) {
        if (instead !== undefined) ws.send(instead);
        continue;
      }
      ws.send(frame);
      sent++;
    }
    return sent;
  }

  /**
   * Closes a socket from the server side and marks it as left. Answers its attachment
   * when this call is the one that closed it, null when it had left already. The runtime
   * may still call webSocketClose later, when the client echoes the close; the mark
   * makes the caller's leave handling run once per socket.
   */
  close(ws: WebSocket, code: number, reason: string): Attachment | null {
    const who = this.attachmentOf(ws);
    if (who.left) return null;
    ws.serializeAttachment({ ...who, left: true });
    closeQuietly(ws, code, reason);
    return who;
  }
}
