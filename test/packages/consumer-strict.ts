// Typechecked with strict settings in a fresh project: the packages' .d.ts must be
// complete and self-contained, and wrong uses must fail to compile.
import { createClient, type JobView } from "@dovetail/client";
import { useChannel } from "@dovetail/client/react";
import { type JobReport, Producer, type ProducerOptions, verifyWebhook, type WebhookPayload } from "@dovetail/producer";

const options: ProducerOptions = { url: "https://hub.example.com", key: "k", retry: { attempts: 3 } };
const hub = new Producer(options);
const client = createClient({ url: "https://hub.example.com", token: () => Promise.resolve("jwt") });

export async function run(): Promise<number> {
  const report: JobReport = await hub.jobs.update("render-42", { status: "running", progress: 40 });
  if (report.cancel_requested) await hub.jobs.cancelled("render-42", "stopped by the user");
  client.job("render-42").on("state", (job: JobView | null) => job?.progress);
  await client.job("render-42").emitEvent("ai_generation_start", { prompt: "fox" });
  const payload = await verifyWebhook<WebhookPayload>("{}", new Headers(), "whsec_x");
  if (payload.type === "job.cancel_requested") return payload.data.job.progress;
  if (payload.type === "client.event") return payload.data.event.length;
  // @ts-expect-error: a status that does not exist
  await hub.jobs.update("render-42", { status: "paused" });
  return report.seq;
}

export function Progress({ id }: { id: string }): number {
  const { state } = useChannel(client.job(id));
  return state?.progress ?? 0;
}
