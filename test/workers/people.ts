// Helpers for the user and room tests: a signed-in person, polling with a
// deadline, and a sentinel event that proves what did NOT arrive before it.
import { expect } from "vitest";
import { connect, type Frame, mintToken, produceOk, type TestSocket, uniqueId } from "./helpers";

export interface Person {
  id: string;
  name: string;
  token: string;
}

export async function person(name: string, rooms?: string[]): Promise<Person> {
  const id = uniqueId(name.toLowerCase());
  return { id, name, token: await mintToken(id, { name, ...(rooms ? { rooms } : {}) }) };
}

/** Opens a socket and reads its `connected` frame. */
export async function join(
  path: string,
  who: Person,
  query?: Record<string, string | number>,
): Promise<{ socket: TestSocket; connected: Frame }> {
  const socket = await connect(path, { token: who.token, ...(query ? { query } : {}) });
  const connected = await socket.next();
  expect(connected.type, `first frame on ${path} for ${who.id}: ${JSON.stringify(connected)}`).toBe("connected");
  return { socket, connected };
}

/** Retries `check` until it stops throwing, or fails with its last error after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T>, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
}

/**
 * Publishes a `test:sentinel` on a room and waits for it on every socket: frames are
 * ordered, so whatever a socket did not get before the sentinel it was never sent.
 */
export async function roomSentinel(room: string, sockets: TestSocket[]): Promise<void> {
  const marker = uniqueId("sentinel");
  await produceOk(`/v1/rooms/${room}/events`, { type: "test:sentinel", data: { marker } });
  for (const socket of sockets) {
    await seen(socket, (f) => f.type === "test:sentinel" && f.data.marker === marker, `sentinel ${marker}`);
  }
}

export async function userSentinel(user: string, sockets: TestSocket[]): Promise<void> {
  const marker = uniqueId("sentinel");
  await produceOk(`/v1/users/${user}/events`, { type: "test:sentinel", data: { marker } });
  for (const socket of sockets) {
    await seen(socket, (f) => f.type === "test:sentinel" && f.data.marker === marker, `sentinel ${marker}`);
  }
}

export function count(socket: TestSocket, type: string): number {
  return socket.frames.filter((f) => f.type === type).length;
}

/** Waits until some frame received so far (read or not) matches. */
export function seen(socket: TestSocket, match: (f: Frame) => boolean, what: string, timeoutMs = 5_000): Promise<Frame> {
  return eventually(async () => {
    const found = socket.frames.find(match);
    if (!found) throw new Error(`no ${what} within ${timeoutMs} ms; frames: ${JSON.stringify(socket.frames.map((f) => f.type))}`);
    return found;
  }, timeoutMs);
}

/** Hangs up and waits for each close to be answered, so no hub log outlives the test. */
export async function hangUpAll(sockets: TestSocket[]): Promise<void> {
  for (const socket of sockets) socket.hangUp();
  await Promise.all(sockets.map((socket) => socket.closed()));
}

/** A public room with a fresh id (`prefix-...`), set up by the producer. */
export async function publicRoom(prefix = "room"): Promise<string> {
  const id = uniqueId(prefix);
  await produceOk(`/v1/rooms/${id}`, { visibility: "public" }, { method: "PUT" });
  return id;
}
