import { createLocalJWKSet, createRemoteJWKSet, errors, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from "jose";
import type { HubConfig } from "../config";
import { HubError } from "../errors";
import { isValidId } from "../ids";

/** Who a verified client is. `rooms` may end entries with `*` for a prefix match. */
export interface Identity {
  id: string;
  name?: string;
  rooms: string[];
  /** Users whose online status this user sees (the `watch` claim), besides the contacts a producer set. */
  watch?: string[];
  /** When the token behind this identity expires (ms since the epoch): open sockets close then. */
  expiresAt?: number;
  /** The token's `jti`, when it has one: what a revocation by token id matches. */
  jti?: string;
}

/** User ids one token's `watch` claim may list (a token travels in every socket handshake). */
export const WATCH_CLAIM_MAX = 100;

/** Clock skew tolerated on exp, nbf and iat (seconds). */
const CLOCK_TOLERANCE_S = 5;

// Key sets are cached per isolate so JWKS fetches and parsing happen once, not per request.
const remoteSets = new Map<string, JWTVerifyGetKey>();
const localSets = new Map<string, JWTVerifyGetKey>();

function keyFor(jwt: HubConfig["jwt"]): JWTVerifyGetKey {
  return async (header, token) => {
    if (header.alg?.startsWith("HS")) {
      // Only ever the shared secret: a public key is never used as an HMAC key, which is
      // what defeats the RS256 -> HS256 confusion attack.
      if (!jwt.secret) throw new errors.JOSEAlgNotAllowed("HMAC tokens are not accepted");
      return new TextEncoder().encode(jwt.secret);
    }
    if (jwt.publicJwks) {
      let set = localSets.get(jwt.publicJwks);
      if (!set) {
        set = createLocalJWKSet(JSON.parse(jwt.publicJwks));
        localSets.set(jwt.publicJwks, set);
      }
      try {
        return await set(header, token);
      } catch (err) {
        if (!jwt.jwksUrl) throw err;
      }
    }
    if (jwt.jwksUrl) {
      let set = remoteSets.get(jwt.jwksUrl);
      if (!set) {
        set = createRemoteJWKSet(new URL(jwt.jwksUrl));
        remoteSets.set(jwt.jwksUrl, set);
      }
      return set(header, token);
    }
    throw new errors.JWKSNoMatchingKey();
  };
}

export async function verifyUserToken(token: string, jwt: HubConfig["jwt"]): Promise<Identity> {
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, keyFor(jwt), {
      algorithms: jwt.algorithms,
      issuer: jwt.issuer,
      audience: jwt.audience,
      requiredClaims: ["sub", "exp"],
      clockTolerance: CLOCK_TOLERANCE_S,
    }));
  } catch (err) {
    throw new HubError("unauthorized", reasonFor(err));
  }
  checkLifetime(payload as JWTPayload & { exp: number }, jwt.maxTtlS);
  return {
    ...identityFrom(payload),
    expiresAt: (payload.exp as number) * 1000,
    ...(typeof payload.jti === "string" && payload.jti.length <= 256 ? { jti: payload.jti } : {}),
  };
}

/**
 * jose checks exp and nbf but puts no bound on a lifetime and accepts an `iat` in the
 * future. A token's lifetime (exp - iat, or exp - now without iat) must be within
 * JWT_MAX_TTL_S, so a leaked long-lived token is refused rather than honoured for years.
 */
function checkLifetime(payload: JWTPayload & { exp: number }, maxTtlS: number): void {
  const now = Math.floor(Date.now() / 1000);
  const iat = payload.iat;
  if (iat !== undefined && iat > now + CLOCK_TOLERANCE_S) throw new HubError("unauthorized", "token claim iat is in the future");
  const lifetime = payload.exp - (iat ?? now);
  if (lifetime > maxTtlS + CLOCK_TOLERANCE_S) {
    throw new HubError("unauthorized", `token lifetime is longer than ${maxTtlS} s (JWT_MAX_TTL_S)`);
  }
}

function reasonFor(err: unknown): string {
  if (err instanceof errors.JWTExpired) return "token expired";
  if (err instanceof errors.JWTClaimValidationFailed) return `token claim ${err.claim} is not valid`;
  if (err instanceof errors.JOSEAlgNotAllowed) return "token algorithm not allowed";
  return "invalid token";
}

/**
 * The identity claims, checked the same way wherever they come from (a JWT or a socket
 * ticket): a valid id as `sub`, a short `name`, bounded `rooms` and `watch` lists.
 */
export function identityFrom(payload: { sub?: unknown; name?: unknown; rooms?: unknown; watch?: unknown }): Identity {
  if (!isValidId(payload.sub)) throw new HubError("unauthorized", "token sub must be a valid id");
  const name = payload.name;
  const rooms = payload.rooms;
  if (name !== undefined && (typeof name !== "string" || name.length > 100)) {
    throw new HubError("unauthorized", "token name must be a string of at most 100 characters");
  }
  if (
    rooms !== undefined &&
    !(Array.isArray(rooms) && rooms.length <= 100 && rooms.every((r) => typeof r === "string" && r.length <= 129))
  ) {
    throw new HubError("unauthorized", "token rooms must be a list of room ids");
  }
  const watch = payload.watch;
  if (watch !== undefined && !(Array.isArray(watch) && watch.length <= WATCH_CLAIM_MAX && watch.every(isValidId))) {
    throw new HubError("unauthorized", `token watch must be a list of at most ${WATCH_CLAIM_MAX} user ids`);
  }
  return {
    id: payload.sub,
    ...(name ? { name } : {}),
    rooms: (rooms as string[] | undefined) ?? [],
    ...(watch ? { watch: watch as string[] } : {}),
  };
}
