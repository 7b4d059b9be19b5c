// Typechecked with strict settings in a fresh project: the packages' .d.ts must be
// complete and self-contained, and wrong uses must fail to compile.
import { type JobReport, Producer, type ProducerOptions, verifyWebhook, type WebhookPayload } from "@dovetail/producer";

const options: ProducerOptions = { url: "https://hub.example.com", key: "k", retry: { attempts: 3 } };
const hub = new Producer(options);

export async function run(): Promise<number> {
  const report: JobReport = await hub.jobs.update("render-42", { status: "running", progress: 40 });
  if (report.cancel_requested) await hub.jobs.cancelled("render-42", "stopped by the user");
  const payload = await verifyWebhook<WebhookPayload>("{}", new Headers(), "whsec_x");
  if (payload.type === "job.cancel_requested") return payload.data.job.progress;
  if (payload.type === "client.event") return payload.data.event.length;
  // @ts-expect-error: a status that does not exist
  await hub.jobs.update("render-42", { status: "paused" });
  return report.seq;
}
