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
}

/** User ids one token's `watch` claim may list (a token travels in every socket handshake). */
export const WATCH_CLAIM_MAX = 100;

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
      clockTolerance: 5,
    }));
  } catch (err) {
    throw new HubError("unauthorized", reasonFor(err));
  }
  return identityFrom(payload);
}

function reasonFor(err: unknown): string {
  if (err instanceof errors.JWTExpired) return "token expired";
  if (err instanceof errors.JWTClaimValidationFailed) return `token claim ${err.claim} is not valid`;
  if (err instanceof errors.JOSEAlgNotAllowed) return "token algorithm not allowed";
  return "invalid token";
}

function identityFrom(payload: JWTPayload): Identity {
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
