// The user's hub reaching the user's sockets on other channels and streams, through the session
// registry: re-counting before a refusal, and closing them for a disconnect or revocation.
import { socketHolder } from "../channel-kinds";
import type { Refusal } from "../hub/connections";
import { log } from "../log";
import type { SessionRegistry } from "./session-registry";

export interface Closed {
  /** Sockets closed. */
  closed: number;
  /** The channels asked (every one where the registry had the user). */
  channels: string[];
}

/**
 * Asks every channel the registry lists (but `except`) how many of the user's sockets it
 * really holds, and corrects the counts: leaves the registry never heard of (a non-last
 * tab, a restart) stop counting against the user.
 */
export async function recount(
  env: Env,
  registry: SessionRegistry,
  userId: string,
  except: string,
  now: () => number,
  local: (channel: string) => number | null,
): Promise<void> {
  const entries = registry.entries().filter((entry) => entry.channel !== except);
  const counts = await Promise.all(
    entries.map(async ({ channel, sockets }) => {
      const own = local(channel);
      if (own !== null) return own;
      const holder = socketHolder(env, channel);
      if (!holder) return 0;
      try {
        return await holder.userSockets(userId);
      } catch (err) {
        // Unreachable now: keep the old count, which errs on the side of the cap.
        log("session.recount_failed", { channel, user: userId, error: String(err) });
        return sockets;
      }
    }),
  );
  entries.forEach(({ channel }, i) => {
    registry.record(channel, counts[i] ?? 0, now());
  });
}

/**
 * Closes the user's sockets on every channel the registry lists (those opened with `jti`
 * only, when given), with `refusal`'s code and reason. `local` closes the ones in the
 * user's own hub, which need no call.
 */
export async function closeEverywhere(
  env: Env,
  registry: SessionRegistry,
  userId: string,
  jti: string | null,
  refusal: Refusal,
  local: (channel: string) => number | null,
): Promise<Closed> {
  const channels = registry.entries().map((entry) => entry.channel);
  const counts = await Promise.all(
    channels.map(async (channel) => {
      const own = local(channel);
      if (own !== null) return own;
      const holder = socketHolder(env, channel);
      if (!holder) return 0;
      try {
        return await holder.closeUserSockets(userId, jti, refusal.code, refusal.reason);
      } catch (err) {
        log("session.close_failed", { channel, user: userId, error: String(err) });
        return 0;
      }
    }),
  );
  return { closed: counts.reduce((sum, n) => sum + n, 0), channels };
}
