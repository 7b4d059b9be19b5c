// Helpers for the stream tests: a producer's PUT/POST, a reader's GET with a producer key
// or a client token, and the protocol headers tests look at.
import { concatBytes } from "../../src/bytes";
import { call, PRODUCER_KEY, uniqueId } from "./helpers";

export const OFFSET = "Stream-Next-Offset";

export function streamPath(prefix = "s"): string {
  return `tests/${uniqueId(prefix)}`;
}

/** A request to /v1/stream/<path> with the producer key (or `token`, or no auth with `token: ""`). */
export function streamCall(path: string, init: RequestInit & { token?: string } = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  const auth = init.token ?? PRODUCER_KEY;
  if (auth !== "") headers.set("Authorization", `Bearer ${auth}`);
  return call(`/v1/stream/${path}`, { ...init, headers });
}

export async function createStream(path: string, contentType = "text/plain", headers: Record<string, string> = {}, body?: BodyInit) {
  const res = await streamCall(path, {
    method: "PUT",
    headers: { "Content-Type": contentType, ...headers },
    ...(body === undefined ? {} : { body }),
  });
  if (res.status !== 201) throw new Error(`PUT ${path} answered ${res.status}: ${await res.text()}`);
  return res;
}

export async function appendTo(path: string, body: BodyInit, headers: Record<string, string> = {}, contentType = "text/plain") {
  return streamCall(path, { method: "POST", headers: { "Content-Type": contentType, ...headers }, body });
}

/** GET with a query (offset, live, ...). */
export function readStream(path: string, query: Record<string, string> = {}, init: RequestInit & { token?: string } = {}) {
  const search = new URLSearchParams(query).toString();
  return streamCall(search ? `${path}?${search}` : path, init);
}

/** Reads a whole stream page by page from `offset`, as a client catching up would. */
export async function readAll(path: string, offset = "-1", init: { token?: string } = {}): Promise<{ bytes: Uint8Array; offset: string }> {
  const parts: Uint8Array[] = [];
  for (let page = 0; page < 10_000; page++) {
    const res = await readStream(path, { offset }, init);
    if (res.status !== 200) throw new Error(`GET ${path}?offset=${offset} answered ${res.status}: ${await res.text()}`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    parts.push(bytes);
    offset = res.headers.get(OFFSET) as string;
    if (res.headers.get("Stream-Up-To-Date") === "true") break;
  }
  return { bytes: concatBytes(parts), offset };
}
