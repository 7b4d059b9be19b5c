// A job's output stream, jobs/<id>/output: a plain Durable Stream the job creates with
// itself, closes when it reaches a final state and deletes when it expires. The job talks
// to the stream's object with the same operations the Worker forwards for /v1/stream/, so
// the stream's rules (idempotent create, close, 404s) are the stream code's, not repeated.
import { type ErrorPayload, HubError } from "../errors";
import type { JobOutput } from "../protocol";
import { H } from "../streams/headers";
import { formatOffset, START } from "../streams/offsets";
import { operationRequest, type StreamOperation } from "../streams/operation";
import { STREAM_ROUTE_PREFIX } from "../streams/paths";

export const DEFAULT_OUTPUT_TYPE = "text/plain";

export function outputPathOf(jobId: string): string {
  return `jobs/${jobId}/output`;
}

export function newOutput(jobId: string, contentType = DEFAULT_OUTPUT_TYPE): JobOutput {
  return { path: outputPathOf(jobId), content_type: contentType, next_offset: formatOffset(START), closed: false };
}

async function perform(env: Env, operation: StreamOperation): Promise<Response> {
  return env.STREAM_HUB.getByName(operation.path).fetch(operationRequest(operation));
}

async function failure(res: Response, what: string): Promise<HubError> {
  const body = (await res.json().catch(() => null)) as { error?: ErrorPayload } | null;
  return body?.error ? HubError.from(body.error) : new HubError("internal", `${what} answered ${res.status}`);
}

/** The stream's position and closure as its answer's headers say. */
function stateFrom(output: JobOutput, res: Response): JobOutput {
  return { ...output, next_offset: res.headers.get(H.nextOffset) ?? output.next_offset, closed: res.headers.get(H.closed) === "true" };
}

/** Creates the stream; the same job created again finds it there (200), which is fine. */
export async function openOutput(env: Env, output: JobOutput): Promise<JobOutput> {
  const url = `https://dovetail.internal${STREAM_ROUTE_PREFIX}${output.path}`;
  const res = await perform(env, { op: "create", path: output.path, url, spec: { contentType: output.content_type, closed: false } });
  if (res.status !== 201 && res.status !== 200) throw await failure(res, "creating the job's output");
  return stateFrom(output, res);
}

/** The stream as it is now; the last known state when it cannot be read (it expired idle). */
export async function outputNow(env: Env, output: JobOutput): Promise<JobOutput> {
  const res = await perform(env, { op: "head", path: output.path, access: { kind: "admitted" } });
  return res.ok ? stateFrom(output, res) : output;
}

/** Closes the stream (closing twice is a no-op); a stream already gone counts as closed. */
export async function closeOutput(env: Env, output: JobOutput): Promise<JobOutput> {
  const res = await perform(env, { op: "append", path: output.path, spec: { contentType: null, closed: true } });
  if (res.status === 404) return { ...output, closed: true };
  if (!res.ok) throw await failure(res, "closing the job's output");
  return stateFrom(output, res);
}

/** Deletes the stream with its job; one already gone is fine. */
export async function deleteOutput(env: Env, output: JobOutput): Promise<void> {
  const res = await perform(env, { op: "delete", path: output.path });
  await res.body?.cancel();
  if (!res.ok && res.status !== 404) throw await failure(res, "deleting the job's output");
}

/**
 * A job hub's side of its output: its state as of the last look (a socket's snapshot is
 * taken synchronously, so the state is read just before), and the calls the job makes.
 */
export class OutputLink {
  private live: JobOutput | undefined;

  constructor(private readonly env: Env) {}

  open(output: JobOutput): Promise<JobOutput> {
    return openOutput(this.env, output);
  }

  /** Reads the output's state for the next snapshot; the stored one if the stream cannot be read. */
  async refresh(output: JobOutput | undefined): Promise<void> {
    this.live = output && (await outputNow(this.env, output).catch(() => output));
  }

  /** `view` with its output as last refreshed. */
  withLive<V extends { output?: JobOutput }>(view: V): V {
    return view.output && this.live?.path === view.output.path ? { ...view, output: this.live } : view;
  }

  /** `view` with its output as it is now. */
  async current<V extends { output?: JobOutput }>(view: V): Promise<V> {
    return view.output ? { ...view, output: await outputNow(this.env, view.output) } : view;
  }

  /** The closed output's state; undefined for a job without one. */
  async close(output: JobOutput | undefined): Promise<JobOutput | undefined> {
    return output && closeOutput(this.env, output);
  }

  async delete(output: JobOutput | undefined): Promise<void> {
    if (output) await deleteOutput(this.env, output);
  }
}
