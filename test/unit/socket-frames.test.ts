import { describe, expect, it } from "vitest";
import { START } from "../../src/streams/offsets";
import { completeUtf8Length, encodingOf, framesFor, MAX_FRAME_DATA_BYTES } from "../../src/streams/socket-frames";
import type { AppendRow } from "../../src/streams/store";

const enc = new TextEncoder();
/** Rows as a stream would store them: seq and end position counted from the start. */
function rows(...parts: Uint8Array[]): AppendRow[] {
  let pos = 0;
  return parts.map((data, i) => {
    pos += data.byteLength;
    return { seq: i + 1, endPos: pos, messages: 1, data };
  });
}
const datas = (frames: string[]) => frames.map((f) => JSON.parse(f).data);

describe("stream socket frames", () => {
  it("finds where a UTF-8 sequence is cut", () => {
    expect(completeUtf8Length(enc.encode("abc"))).toBe(3);
    expect(completeUtf8Length(Uint8Array.of(0x61, 0xc3))).toBe(1);
    expect(completeUtf8Length(Uint8Array.of(0x61, 0xe2, 0x82))).toBe(1);
    expect(completeUtf8Length(enc.encode("a€"))).toBe(4);
    expect(completeUtf8Length(Uint8Array.of(0xf0, 0x9f, 0x99))).toBe(0);
    expect(completeUtf8Length(enc.encode("🙂"))).toBe(4);
  });

  it("says how each content type travels", () => {
    expect(encodingOf("text/plain; charset=utf-8")).toBe("text");
    expect(encodingOf("application/json")).toBe("json");
    expect(encodingOf("application/octet-stream")).toBe("base64");
  });

  it("holds back text that ends inside a character until it is completed, unless the stream is closed", () => {
    const cut = rows(Uint8Array.of(0x68, 0xc3));
    expect(framesFor("text", START, cut, "t", false)).toEqual({ frames: [], next: START });
    const closed = framesFor("text", START, cut, "t", true);
    expect(closed.frames.length).toBe(1);
    const whole = framesFor("text", START, rows(Uint8Array.of(0x68, 0xc3), Uint8Array.of(0xa9)), "t", false);
    expect(datas(whole.frames)).toEqual([
      { offset: "0000000000000000_0000000000000000", next_offset: "0000000000000002_0000000000000003", data: "hé" },
    ]);
  });

  it("ends a frame at the last whole row before the limit, never past 64 KiB", () => {
    const piece = enc.encode("x".repeat(30_000));
    const batch = framesFor("text", START, rows(piece, piece, piece, piece, piece), "t", false);
    expect(batch.frames.length).toBe(3);
    for (const d of datas(batch.frames)) expect(d.data.length).toBeLessThanOrEqual(MAX_FRAME_DATA_BYTES);
    expect(batch.next).toEqual({ seq: 5, pos: 150_000 });
  });

  it("splits one large append into partial frames with the same offsets, JSON by whole messages and binary as base64", () => {
    const big = enc.encode(Array.from({ length: 3000 }, (_, i) => JSON.stringify({ i, pad: "y".repeat(40) })).join(","));
    const json = datas(framesFor("json", START, rows(big), "t", false).frames);
    expect(json.length).toBeGreaterThan(1);
    expect(json.slice(0, -1).every((d) => d.partial === true)).toBe(true);
    expect(json.at(-1).partial).toBeUndefined();
    expect(json.flatMap((d) => d.data).map((m: { i: number }) => m.i)).toEqual(Array.from({ length: 3000 }, (_, i) => i));
    const bytes = Uint8Array.from({ length: 100_000 }, (_, i) => i % 251);
    const bin = datas(framesFor("base64", START, rows(bytes), "t", false).frames);
    expect(bin.every((d) => d.encoding === "base64" && d.data.length <= MAX_FRAME_DATA_BYTES)).toBe(true);
    const back = Uint8Array.from(bin.map((d) => atob(d.data)).join(""), (c) => c.charCodeAt(0));
    expect(back).toEqual(bytes);
  });
});
