// Proves the packages from the outside, as a user installs them: `npm pack` each JS
// package, install the tarballs into a fresh project outside the repository, import
// them from plain Node ESM (against the real hub) and from a strict TypeScript file that
// must typecheck; build the Python wheel with Debian's python3-build, install it into a
// fresh venv, and drive the hub from it.
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { E2E_PRODUCER_KEY, startHub } from "../test/e2e/harness.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const node = process.execPath;
const python = process.env.DOVETAIL_PYTHON ?? "/usr/bin/python3";
const PACKAGES = ["client", "producer"];
const reactTypes = JSON.parse(execFileSync("npm", ["ls", "@types/react", "--json"], { cwd: root, encoding: "utf8" })).dependencies[
  "@types/react"
].version;
const work = mkdtempSync(join(tmpdir(), "dovetail-packages-"));
const run = (cmd, args, options = {}) => execFileSync(cmd, args, { stdio: "inherit", ...options });
/** Like run, but without blocking this process: the hub's dev server lives in it. */
const runAsync = (cmd, args, options = {}) =>
  new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: "inherit", ...options });
    child.once("error", reject);
    child.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(" ")} exited with ${code}`))));
  });
const step = (what) => console.log(`\n== ${what}`);

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

try {
  step("build and pack");
  run(node, [join(root, "scripts/build-packages.mjs")]);
  const tarballs = PACKAGES.map((name) => {
    const out = execFileSync("npm", ["pack", "--pack-destination", work, "--json"], {
      cwd: join(root, "packages", name),
      encoding: "utf8",
    });
    const [{ filename, files }] = JSON.parse(out);
    const paths = files.map((f) => f.path);
    for (const needed of ["package.json", "README.md", "LICENSE", "dist/index.js"]) {
      if (!paths.includes(needed)) throw new Error(`${filename} lacks ${needed}`);
    }
    if (!paths.some((p) => p.endsWith(".d.ts"))) throw new Error(`${filename} has no .d.ts`);
    console.log(`${filename}: ${paths.length} files`);
    return join(work, filename);
  });

  step("install the tarballs into a fresh project");
  const app = join(work, "app");
  run("mkdir", ["-p", app]);
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
  run("npm", ["install", "--no-audit", "--no-fund", "--offline", ...tarballs], { cwd: app });
  // Only for typechecking the React hook's entry (react is the client's optional peer).
  run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", "--save-dev", `@types/react@${reactTypes}`], { cwd: app });
  for (const name of PACKAGES) {
    const manifest = JSON.parse(readFileSync(join(app, "node_modules/@dovetail", name, "package.json"), "utf8"));
    if (Object.keys(manifest.dependencies ?? {}).length > 0) throw new Error(`@dovetail/${name} has runtime dependencies`);
  }
  copyFileSync(join(root, "test/packages/consumer-plain.mjs"), join(app, "plain.mjs"));
  copyFileSync(join(root, "test/packages/consumer-strict.ts"), join(app, "strict.ts"));
  copyFileSync(join(root, "test/packages/consumer-tsconfig.json"), join(app, "tsconfig.json"));

  step("typecheck a strict TypeScript consumer");
  run(node, [join(root, "node_modules/typescript/bin/tsc"), "-p", join(app, "tsconfig.json")]);

  step("run plain ESM and the Python wheel against the real hub");
  const secret = `whsec_${randomBytes(32).toString("base64")}`;
  const receiverPort = await freePort();
  const hub = await startHub({
    vars: { DEV_MODE: "1", WEBHOOK_URL: `http://127.0.0.1:${receiverPort}/hooks`, WEBHOOK_SECRET: secret, WEBHOOK_RETRY_BASE_MS: "50" },
  });
  try {
    const env = {
      ...process.env,
      HUB_URL: hub.url.origin,
      PRODUCER_KEY: E2E_PRODUCER_KEY,
      USER_TOKEN: await hub.token("pack-check"),
      WEBHOOK_SECRET: secret,
      RECEIVER_PORT: String(receiverPort),
    };
    await runAsync(node, ["plain.mjs"], { cwd: app, env });

    step("build the Python wheel and install it into a fresh venv");
    const source = join(work, "python-src");
    run("cp", ["-r", join(root, "clients/python"), source]);
    rmSync(join(source, "tests"), { recursive: true, force: true });
    // --no-isolation: the build uses Debian's setuptools instead of downloading one.
    run(python, ["-m", "build", "--wheel", "--no-isolation", "--outdir", join(work, "wheels"), source], {
      stdio: ["ignore", "ignore", "inherit"],
    });
    console.log("built the wheel");
    const wheel = readdirSync(join(work, "wheels")).find((f) => f.endsWith(".whl"));
    if (!wheel) throw new Error("no wheel was built");
    run(python, ["-m", "venv", join(work, "venv")]);
    run(join(work, "venv/bin/pip"), ["install", "--no-index", "--quiet", join(work, "wheels", wheel)]);
    await runAsync(join(work, "venv/bin/python"), [join(root, "test/packages/consumer.py")], { cwd: work, env });
  } finally {
    await hub.stop();
  }
  console.log("\npackages: verified from the outside");
} finally {
  rmSync(work, { recursive: true, force: true });
}
