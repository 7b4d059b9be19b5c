// Runs in a fresh project that installed the packed tarballs: plain Node ESM, no
// TypeScript, no access to the repository. Drives the real hub (HUB_URL) and checks a
// real webhook (RECEIVER_PORT) with the package's own verifier.
import { createServer } from "node:http";
import { Producer, ProducerError, verifyWebhook } from "@dovetail/producer";

const { HUB_URL, PRODUCER_KEY, WEBHOOK_SECRET, RECEIVER_PORT } = process.env;
const check = (ok, what) => {
  if (!ok) throw new Error(`consumer check failed: ${what}`);
};

const webhooks = [];
const server = createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    webhooks.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
    res.writeHead(204).end();
  });
});
await new Promise((resolve) => server.listen(Number(RECEIVER_PORT), "127.0.0.1", resolve));

const hub = new Producer({ url: HUB_URL, key: PRODUCER_KEY });
const job = await hub.jobs.create({ owner: "pack-check", title: "From a tarball", stall_timeout_s: 1 });
const running = await hub.jobs.update(job.id, { status: "running", progress: 10 });
check(running.cancel_requested === false && running.state.progress === 10, "an update answers the state and cancel_requested");
const bad = await hub.jobs.create({ owner: "" }).catch((e) => e);
check(bad instanceof ProducerError && bad.code === "validation_failed", "a bad body is a ProducerError with the hub's code");

// The stall watchdog fails the job after 1 s without updates, and the hub says so by webhook.
const deadline = Date.now() + 15_000;
let stalled;
while (!stalled && Date.now() < deadline) {
  for (const w of webhooks) {
    const payload = await verifyWebhook(w.body, w.headers, WEBHOOK_SECRET);
    if (payload.type === "job.stalled" && payload.data.job.id === job.id) stalled = payload;
  }
  if (!stalled) await new Promise((r) => setTimeout(r, 100));
}
check(stalled?.data.job.error.code === "stalled", "a signed job.stalled webhook arrived and verified");
server.close();
console.log("plain ESM consumer: ok");
