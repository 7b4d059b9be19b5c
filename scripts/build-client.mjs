// Builds the client: an ESM browser bundle for the demo page (public/dovetail-client.js)
// and the package entries (dist/client/index.js, dist/client/react.js, react external).
// Fails if the core client pulls in any dependency: it must stay dependency-free.
import { build } from "esbuild";

const common = { bundle: true, format: "esm", target: "es2022", sourcemap: true, logLevel: "warning" };

const browser = await build({
  ...common,
  entryPoints: ["src/client/index.ts"],
  platform: "browser",
  outfile: "public/dovetail-client.js",
  metafile: true,
});

await build({
  ...common,
  entryPoints: { index: "src/client/index.ts", react: "src/client/react.ts" },
  platform: "neutral",
  splitting: true,
  outdir: "dist/client",
  external: ["react"],
});

const inputs = Object.keys(browser.metafile.inputs);
const foreign = inputs.filter((path) => !path.startsWith("src/client/") && !path.startsWith("src/protocol/"));
if (foreign.length > 0) {
  console.error(`the client bundle must only contain src/client and src/protocol; found: ${foreign.join(", ")}`);
  process.exit(1);
}
const bytes = Object.values(browser.metafile.outputs).find((o) => o.entryPoint)?.bytes ?? 0;
console.log(`client: public/dovetail-client.js (${(bytes / 1024).toFixed(1)} KiB, ${inputs.length} modules), dist/client/{index,react}.js`);
