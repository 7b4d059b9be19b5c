// `npm run dev`: the hub on http://localhost:8787 with dev-only secrets, no setup.
import { execFileSync, spawn } from "node:child_process";
import { copyFileSync, existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const devVars = join(root, ".dev.vars");
if (!existsSync(devVars)) {
  copyFileSync(join(root, ".dev.vars.example"), devVars);
  console.log("Created .dev.vars from .dev.vars.example (dev-only secrets).");
}
const key = /^PRODUCER_KEYS=([^,\n]+)/m.exec(readFileSync(devVars, "utf8"))?.[1] ?? "<your producer key>";
const port = process.env.PORT ?? "8787";

console.log(`
Dovetail dev hub on http://localhost:${port}  (open it: the demo page)
  producer key : ${key}
  user token   : npm run token -- alice
  create a job : curl -s localhost:${port}/v1/jobs -H "Authorization: Bearer ${key}" -H "Content-Type: application/json" -d '{"id":"demo-1","owner":"alice"}'
`);

const env = { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" };
// The demo page loads the client SDK's browser bundle from public/.
execFileSync(process.execPath, [join(root, "scripts/build-client.mjs")], { cwd: root, stdio: "inherit" });
const child = spawn(
  process.execPath,
  [join(root, "node_modules/wrangler/bin/wrangler.js"), "dev", "--port", port, ...process.argv.slice(2)],
  {
    cwd: root,
    env,
    stdio: "inherit",
  },
);
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
child.on("exit", (code) => process.exit(code ?? 0));
