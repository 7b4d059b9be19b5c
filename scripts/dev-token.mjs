// `npm run token -- <user-id> [--name "Alice"] [--rooms "lobby,team-*"] [--ttl 3600]`
// Mints a client JWT with the dev secret from .dev.vars (or .dev.vars.example).
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { SignJWT } from "jose";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { name: { type: "string" }, rooms: { type: "string" }, ttl: { type: "string", default: "3600" } },
});
const sub = positionals[0];
if (!sub) {
  console.error('usage: npm run token -- <user-id> [--name "Alice"] [--rooms "lobby,team-*"] [--ttl seconds]');
  process.exit(2);
}
const file = [".dev.vars", ".dev.vars.example"].map((f) => join(root, f)).find(existsSync);
const vars = Object.fromEntries(
  readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => /^[A-Z_]+=/.test(line))
    .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1).trim()]),
);
if (!vars.JWT_SECRET) {
  console.error(`no JWT_SECRET in ${file}`);
  process.exit(1);
}
const claims = {};
if (values.name) claims.name = values.name;
if (values.rooms) claims.rooms = values.rooms.split(",").map((r) => r.trim());
let jwt = new SignJWT(claims)
  .setProtectedHeader({ alg: "HS256" })
  .setSubject(sub)
  .setIssuedAt()
  .setExpirationTime(`${Number(values.ttl)}s`);
if (vars.JWT_ISSUER) jwt = jwt.setIssuer(vars.JWT_ISSUER);
if (vars.JWT_AUDIENCE) jwt = jwt.setAudience(vars.JWT_AUDIENCE);
console.log(await jwt.sign(new TextEncoder().encode(vars.JWT_SECRET)));
