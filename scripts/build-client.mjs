// Builds the client's browser bundle for the demo page (public/dovetail-client.js). The
// npm package's own build (dist/, .d.ts) is scripts/build-packages.mjs. Fails if the
// client pulls in any dependency: it must stay dependency-free.
import { build } from "esbuild";

const browser = await build({
  bundle: true,
  format: "esm",
  target: "es2022",
  sourcemap: true,
  logLevel: "warning",
  entryPoints: ["packages/client/src/index.ts"],
  platform: "browser",
  outfile: "public/dovetail-client.js",
  metafile: true,
});

const inputs = Object.keys(browser.metafile.inputs);
const foreign = inputs.filter((path) => !path.startsWith("packages/client/src/") && !path.startsWith("src/protocol/"));
if (foreign.length > 0) {
  console.error(`the client bundle must only contain packages/client/src and src/protocol; found: ${foreign.join(", ")}`);
  process.exit(1);
}
const bytes = Object.values(browser.metafile.outputs).find((o) => o.entryPoint)?.bytes ?? 0;
console.log(`client: public/dovetail-client.js (${(bytes / 1024).toFixed(1)} KiB, ${inputs.length} modules)`);
