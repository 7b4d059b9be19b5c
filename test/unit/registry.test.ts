// The channel-kind registry and the validation adapter: the two look-ups every route uses.
import * as v from "valibot";
import { describe, expect, it } from "vitest";
import { channelName, kindByPlural, kindNamed, splitChannel } from "../../src/channel-kinds";
import { HubError } from "../../src/errors";
import { parseWith } from "../../src/validation";

describe("channel kinds", () => {
  it("knows the four kinds by name and by plural", () => {
    expect(["user", "job", "room", "batch"].map((k) => kindNamed(k)?.plural)).toEqual(["users", "jobs", "rooms", "batches"]);
    expect(["users", "jobs", "rooms", "batches"].map((p) => kindByPlural(p)?.kind)).toEqual(["user", "job", "room", "batch"]);
    expect(kindNamed("user")?.idFromToken).toBe(true);
    expect(kindNamed("job")?.idFromToken).toBe(false);
  });

  it("knows nothing else, inherited property names included", () => {
    for (const name of ["constructor", "__proto__", "toString", "hasOwnProperty", "valueOf", "", "Job"]) {
      expect(kindNamed(name), name).toBeUndefined();
      expect(kindByPlural(name), name).toBeUndefined();
    }
  });

  it("splits a channel name at its first colon only", () => {
    expect(channelName("room", "campaign:1")).toBe("room:campaign:1");
    const split = splitChannel("room:campaign:1");
    expect(split?.spec.kind).toBe("room");
    expect(split?.rawId).toBe("campaign:1");
    expect(splitChannel("room:")?.rawId).toBe("");
    for (const bad of ["room", "nowhere:1", "constructor:x", "__proto__:x", ":x"]) expect(splitChannel(bad), bad).toBeUndefined();
  });
});

describe("parseWith", () => {
  const Body = v.strictObject({ owner: v.string(), n: v.optional(v.number()) });

  it("answers the parsed value", () => {
    expect(parseWith(Body, { owner: "a", n: 1 })).toEqual({ owner: "a", n: 1 });
  });

  it("throws validation_failed with every issue's path, and the first in the message", () => {
    let err: HubError | undefined;
    try {
      parseWith(Body, { owner: 42, n: "x" });
    } catch (e) {
      err = e as HubError;
    }
    expect(err).toBeInstanceOf(HubError);
    expect(err?.code).toBe("validation_failed");
    expect(err?.issues?.map((i) => i.path)).toEqual(["owner", "n"]);
    expect(err?.message).toMatch(/^owner: /);
  });

  it("prefixes paths with the part being checked", () => {
    expect(() => parseWith(Body, { owner: 1 }, "data")).toThrow(/^data\.owner: /);
    expect(() => parseWith(v.string(), 1, "type")).toThrow(/^type: /);
  });
});
