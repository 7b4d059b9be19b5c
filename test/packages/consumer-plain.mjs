// Runs in a fresh project that installed the packed tarballs: plain Node ESM, no
// TypeScript, no access to the repository. Drives the real hub (HUB_URL) with both
// packages and checks real webhooks (RECEIVER_PORT) with the producer package's verifier.
import { createServer } from "node:http";
import { createClient } from "@dovetail/client";
import { Producer, ProducerError, verifyWebhook } from "@dovetail/producer";

const { HUB_URL, PRODUCER_KEY, USER_TOKEN, WEBHOOK_SECRET, RECEIVER_PORT } = process.env;
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

/** Waits for a verified webhook that `match` accepts. */
async function webhook(match, what) {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    for (const w of webhooks) {
      const payload = await verifyWebhook(w.body, w.headers, WEBHOOK_SECRET);
      if (match(payload)) return payload;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`consumer check failed: no verified webhook for ${what}`);
}

const hub = new Producer({ url: HUB_URL, key: PRODUCER_KEY });
const client = createClient({ url: HUB_URL, token: USER_TOKEN, lifecycle: false });

// The cancel loop: the owner watches and cancels, the backend hears it by webhook and in its next update.
const job = await hub.jobs.create({ owner: "pack-check", title: "From a tarball" });
const channel = client.job(job.id);
const seen = new Promise((resolve) => channel.on("state", (state) => state?.progress === 10 && resolve(state)));
const running = await hub.jobs.update(job.id, { status: "running", progress: 10 });
check(running.cancel_requested === false, "an update answers cancel_requested");
check((await seen).status === "running", "the client saw the update");
await channel.cancel();
await webhook((p) => p.type === "job.cancel_requested" && p.data.job.id === job.id, "job.cancel_requested");
check((await hub.jobs.update(job.id, { progress: 20 })).cancel_requested === true, "the next update says cancel_requested");
await hub.jobs.cancelled(job.id, "stopped by the user");

// A client event, and the stall watchdog, both by webhook.
const ack = await channel.emitEvent("pack_check", { ok: true });
await webhook((p) => p.type === "client.event" && p.channel === `job:${job.id}` && p.data.event === "pack_check", "client.event");
check(typeof ack.id === "string", "emitEvent resolves with the webhook id");
const slow = await hub.jobs.create({ owner: "pack-check", stall_timeout_s: 1 });
await hub.jobs.update(slow.id, { status: "running" });
await webhook((p) => p.type === "job.stalled" && p.data.job.id === slow.id, "job.stalled");

const bad = await hub.jobs.create({ owner: "" }).catch((e) => e);
check(bad instanceof ProducerError && bad.code === "validation_failed", "a bad body is a ProducerError with the hub's code");
client.close();
server.close();
console.log("plain ESM consumer: ok");
