// Client-frame intake as a pure decision: every verdict a hub can reach for one frame.
import { describe, expect, it } from "vitest";
import { readClientFrame } from "../../src/hub/intake";
import { CloseCode } from "../../src/protocol";

const limits = { maxFrameBytes: 1_000, perSecond: 20 };

describe("readClientFrame", () => {
  it("hands a well-formed frame, unknown keys and all, to the hub", () => {
    expect(readClientFrame('{"type":"message","text":"hi","ref":"m1"}', "ok", limits)).toEqual({
      action: "handle",
      frame: { type: "message", text: "hi", ref: "m1" },
    });
  });

  it("answers a ping frame with a pong without bothering the hub", () => {
    expect(readClientFrame('{"type":"ping","ref":1}', "ok", limits)).toEqual({ action: "pong" });
  });

  it("checks size before anything else: a 10 MB binary frame closes with 1009 whatever the rate verdict", () => {
    for (const rate of ["ok", "refuse", "close"] as const) {
      expect(readClientFrame(new ArrayBuffer(10_000_000), rate, limits)).toMatchObject({ action: "close", code: CloseCode.TooBig });
      expect(readClientFrame("x".repeat(10_000), rate, limits)).toMatchObject({ action: "close", code: CloseCode.TooBig });
    }
  });

  it("closes with 4008 when the socket's rate verdict says close", () => {
    expect(readClientFrame('{"type":"message"}', "close", limits)).toEqual({
      action: "close",
      code: CloseCode.RateLimited,
      reason: "too many frames",
    });
  });

  it("refuses a frame over the rate with rate_limited, naming the limit", () => {
    const intake = readClientFrame('{"type":"message"}', "refuse", limits);
    expect(intake).toMatchObject({ action: "refuse", error: { code: "rate_limited" } });
    expect(intake.action === "refuse" && intake.error.message).toContain("20 frames per second");
  });

  it("closes a binary frame within the size limit with 1003", () => {
    expect(readClientFrame(new ArrayBuffer(4), "ok", limits)).toMatchObject({ action: "close", code: CloseCode.UnsupportedData });
    expect(readClientFrame(new ArrayBuffer(1_000), "close", limits)).toMatchObject({ action: "close", code: CloseCode.UnsupportedData });
  });

  it("closes with 1009 on a frame over the byte limit, counting UTF-8 bytes not characters", () => {
    const ascii = `{"type":"m","t":"${"a".repeat(980)}"}`;
    expect(ascii.length).toBeLessThanOrEqual(1_000);
    expect(readClientFrame(ascii, "ok", limits).action).toBe("handle");
    const wide = `{"type":"m","t":"${"€".repeat(400)}"}`; // 400 characters, 1,200 bytes
    expect(readClientFrame(wide, "ok", limits)).toMatchObject({ action: "close", code: CloseCode.TooBig });
  });

  it("refuses text that is not JSON, and JSON that is not a frame", () => {
    for (const text of ["{not json", "", '"just a string"', "[1,2]", "null", '{"type":7}', `{"type":"${"x".repeat(65)}"}`, '{"ref":"r"}']) {
      expect(readClientFrame(text, "ok", limits), text).toMatchObject({ action: "refuse", error: { code: "validation_failed" } });
    }
  });

  it("refuses a ref that is neither a short string nor a number", () => {
    const intake = readClientFrame(`{"type":"message","ref":{"a":1}}`, "ok", limits);
    expect(intake).toMatchObject({ action: "refuse", error: { code: "validation_failed" } });
  });
});
