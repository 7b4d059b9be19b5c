// The demo's typing job (dev only): a simulated model writes a paragraph word by word into
// its job's output stream, as a backend would (plain Durable Streams appends with the
// producer key), reporting progress every few words and stopping when the owner cancels.
import * as v from "valibot";
import type { AppContext } from "../http";
import { readJson } from "../http";
import { newId } from "../ids";
import { log } from "../log";
import { TYPING_PARAGRAPH } from "./demo-paragraph";
import { type AppFetch, type Call, producerCall } from "./dev";

const WORDS = TYPING_PARAGRAPH.split(" ");
/** Progress (and the owner's cancel) is checked this often, in words. */
const REPORT_EVERY = 8;

const TypingBody = v.strictObject({
  words_per_s: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(100))),
});

/** POST /dev/typing: a job with an output, and a writer that fills it after the response. */
export async function startTypingJob(c: AppContext, appFetch: AppFetch): Promise<Response> {
  const { words_per_s } = await readJson(c, TypingBody);
  const owner = c.get("identity").id;
  const id = `typing-${newId()}`;
  const call = producerCall(c, appFetch);
  const res = await call(`/v1/jobs`, "application/json", JSON.stringify({ id, owner, title: "Writing a paragraph", output: {} }));
  if (!res.ok) return new Response(res.body, res);
  c.executionCtx.waitUntil(write(call, id, 1000 / (words_per_s ?? 30)));
  return c.json({ id, output: `jobs/${id}/output`, words: WORDS.length }, 201);
}

async function write(call: Call, id: string, intervalMs: number): Promise<void> {
  const report = (body: unknown) => call(`/v1/jobs/${id}/events`, "application/json", JSON.stringify(body));
  try {
    await report({ status: "running", progress: 0, stage: "Writing" });
    for (const [i, word] of WORDS.entries()) {
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
      const appended = await call(`/v1/stream/jobs/${id}/output`, "text/plain; charset=utf-8", i === 0 ? word : ` ${word}`);
      if (!appended.ok) return; // closed: the job ended elsewhere
      if ((i + 1) % REPORT_EVERY !== 0) continue;
      const res = await report({ progress: Math.floor(((i + 1) * 100) / WORDS.length) });
      const { cancel_requested } = (await res.json()) as { cancel_requested?: boolean };
      if (cancel_requested) {
        await report({ status: "cancelled", message: "cancelled by the user" });
        return;
      }
    }
    await report({ status: "completed", stage: "Done" });
  } catch (err) {
    log("dev.typing_failed", { job: id, error: String(err) });
  }
}
