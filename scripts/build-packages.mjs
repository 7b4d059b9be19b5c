// Builds the npm packages under packages/: one ESM bundle per entry (esbuild) and .d.ts
// declarations (tsc). A package may bundle the hub's shared modules (wire types, webhook
// signatures, backoff), never a dependency: the build fails if anything from node_modules
// would end up inside, since the packages promise to have no runtime dependencies.
import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const PACKAGES = {
  client: { entries: { index: "packages/client/src/index.ts", react: "packages/client/src/react.ts" }, external: ["react"] },
  producer: { entries: { index: "packages/producer/src/index.ts" }, external: [] },
};

const wanted = process.argv.slice(2);
for (const [name, spec] of Object.entries(PACKAGES)) {
  if (wanted.length > 0 && !wanted.includes(name)) continue;
  const dir = join(root, "packages", name);
  rmSync(join(dir, "dist"), { recursive: true, force: true });
  const result = await build({
    absWorkingDir: root,
    entryPoints: spec.entries,
    outdir: join(dir, "dist"),
    bundle: true,
    splitting: Object.keys(spec.entries).length > 1,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    sourcemap: true,
    external: spec.external,
    metafile: true,
    logLevel: "warning",
  });
  const foreign = Object.keys(result.metafile.inputs).filter((path) => path.includes("node_modules"));
  if (foreign.length > 0) {
    console.error(`${name}: the bundle must not contain dependencies; found ${foreign.join(", ")}`);
    process.exit(1);
  }
  execFileSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", join(dir, "tsconfig.build.json")], {
    stdio: "inherit",
  });
  const bytes = Object.values(result.metafile.outputs).reduce((sum, o) => sum + (o.entryPoint ? o.bytes : 0), 0);
  console.log(
    `${name}: ${relative(root, join(dir, "dist"))} (${(bytes / 1024).toFixed(1)} KiB of JS, ${Object.keys(result.metafile.inputs).length} modules)`,
  );
}
