// Starts the hub on a free port for tests written in other languages (the Python SDK's
// pytest suite): the same harness as the e2e tests, with test-only secrets. Prints one
// JSON line {url, producer_key, jwt_secret} once serving, and stops when stdin closes.
// Extra vars come as a JSON object in the first argument.
import { E2E_JWT_SECRET, E2E_PRODUCER_KEY, startHub } from "../test/e2e/harness.ts";

const vars = process.argv[2] ? JSON.parse(process.argv[2]) : {};
const hub = await startHub({ vars });
process.stdout.write(`${JSON.stringify({ url: hub.url.origin, producer_key: E2E_PRODUCER_KEY, jwt_secret: E2E_JWT_SECRET })}\n`);

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  await hub.stop();
  process.exit(0);
}
process.stdin.on("end", stop);
process.stdin.on("close", stop);
process.stdin.resume();
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, stop);
