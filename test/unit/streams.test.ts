// The pure decisions of the Durable Streams implementation: offsets, cursors, producer
// fencing, path scopes, TTL renewal and SSE framing.
import { describe, expect, it } from "vitest";
import { expiryOf, renewalDue } from "../../src/streams/expiry";
import { formatOffset, nextCursor, parseOffset } from "../../src/streams/offsets";
import { parseStreamPath } from "../../src/streams/paths";
import { judgeProducer } from "../../src/streams/producers";
import { dataEvent } from "../../src/streams/sse-events";

describe("stream decisions", () => {
  it("offsets sort like the positions they name and round-trip", () => {
    const a = formatOffset({ seq: 9, pos: 99_999 });
    const b = formatOffset({ seq: 10, pos: 100_000 });
    expect(a < b).toBe(true);
    expect(parseOffset(b)).toEqual({ seq: 10, pos: 100_000 });
    for (const bad of ["-1", "now", "1_2", `${a},`, `${a} `, a.replace("_", "-")]) expect(parseOffset(bad)).toBeNull();
  });

  it("cursors count 20 s intervals and always move past the one a client echoes", () => {
    const now = Date.UTC(2024, 9, 9, 0, 1, 0); // three intervals after the cursor epoch
    expect(nextCursor(now, undefined)).toBe("3");
    expect(nextCursor(now, "1")).toBe("3");
    expect(nextCursor(now, "3", () => 0)).toBe("4");
    expect(nextCursor(now, "3", () => 0.999_999)).toBe("183");
    expect(nextCursor(now, "junk")).toBe("3");
  });

  it("fences producers by epoch and sequence", () => {
    expect(judgeProducer(undefined, { id: "p", epoch: 3, seq: 0 })).toEqual({ kind: "accept", state: { epoch: 3, lastSeq: 0 } });
    expect(judgeProducer(undefined, { id: "p", epoch: 0, seq: 2 })).toEqual({ kind: "gap", expectedSeq: 0 });
    const state = { epoch: 1, lastSeq: 4 };
    expect(judgeProducer(state, { id: "p", epoch: 0, seq: 5 })).toEqual({ kind: "stale_epoch", currentEpoch: 1 });
    expect(judgeProducer(state, { id: "p", epoch: 2, seq: 1 })).toEqual({ kind: "bad_epoch_start" });
    expect(judgeProducer(state, { id: "p", epoch: 2, seq: 0 })).toEqual({ kind: "accept", state: { epoch: 2, lastSeq: 0 } });
    expect(judgeProducer(state, { id: "p", epoch: 1, seq: 3 })).toEqual({ kind: "duplicate", state });
    expect(judgeProducer(state, { id: "p", epoch: 1, seq: 5 })).toEqual({ kind: "accept", state: { epoch: 1, lastSeq: 5 } });
    expect(judgeProducer(state, { id: "p", epoch: 1, seq: 7 })).toEqual({ kind: "gap", expectedSeq: 5 });
  });

  it("reads a path's scope from its first segments", () => {
    expect(parseStreamPath("jobs/render-42/output").scope).toEqual({ kind: "job", id: "render-42" });
    expect(parseStreamPath("rooms/campaign:7/log").scope).toEqual({ kind: "room", id: "campaign:7" });
    expect(parseStreamPath("users/alice").scope).toEqual({ kind: "user", id: "alice" });
    expect(parseStreamPath("chats/1/reply~2").scope).toEqual({ kind: "granted" });
    expect(() => parseStreamPath("chats/campaign:7")).toThrow();
  });

  it("slides a TTL on reads and writes, coalescing the renewals; a fixed expiry never moves", () => {
    const meta = { ttlS: 10, expiresAt: null, touchedAt: 1_000 };
    expect(expiryOf(meta, 0)).toBe(11_000);
    expect(renewalDue(meta, 1_500, 0)).toBe(false);
    expect(renewalDue(meta, 2_000, 0)).toBe(true);
    expect(renewalDue({ ttlS: 2, expiresAt: null, touchedAt: 1_000 }, 1_500, 0)).toBe(true);
    const week = { ttlS: null, expiresAt: null, touchedAt: 0 };
    expect(renewalDue(week, 600_000, 604_800)).toBe(false);
    expect(renewalDue(week, 605_000, 604_800)).toBe(true);
    expect(expiryOf({ ttlS: null, expiresAt: 5_000, touchedAt: 1_000 }, 60)).toBe(5_000);
    expect(renewalDue({ ttlS: null, expiresAt: 5_000, touchedAt: 0 }, 4_000, 60)).toBe(false);
    expect(expiryOf({ ttlS: null, expiresAt: null, touchedAt: 0 }, 0)).toBeNull();
  });

  it("frames text so an embedded blank line or event: line stays data", () => {
    const event = dataEvent(new TextEncoder().encode("a\r\n\r\nevent: control\rdata: x\nb"), "text");
    expect(event).toBe("event: data\ndata:a\ndata:\ndata:event: control\ndata:data: x\ndata:b\n\n");
    expect(dataEvent(new Uint8Array([0, 10, 255]), "base64")).toBe("event: data\ndata:AAr/\n\n");
  });
});
