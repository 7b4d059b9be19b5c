import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { decodeSecret, generateSecret, signWebhook, verifyWebhook, WebhookVerificationError } from "../../src/webhooks/signature";

const body = JSON.stringify({ type: "client.event", timestamp: "2026-11-22T10:00:00.000Z", channel: "room:lobby", data: { n: 1 } });
const headersFor = (id: string, timestamp: number, signature: string) => ({
  "webhook-id": id,
  "webhook-timestamp": String(timestamp),
  "webhook-signature": signature,
});

async function failure(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof WebhookVerificationError) return err.code;
    throw err;
  }
  throw new Error("expected a verification error");
}

describe("Standard Webhooks signatures", () => {
  it("signs so that the standardwebhooks package verifies, with either secret of a rotation", async () => {
    const [oldSecret, newSecret] = [generateSecret(), generateSecret()];
    const now = Math.floor(Date.now() / 1000);
    const signature = await signWebhook([oldSecret, newSecret], "msg_1", now, body);
    expect(signature.split(" ")).toHaveLength(2);
    for (const secret of [oldSecret, newSecret]) {
      expect(new Webhook(secret).verify(body, headersFor("msg_1", now, signature))).toEqual(JSON.parse(body));
    }
    expect(() => new Webhook(generateSecret()).verify(body, headersFor("msg_1", now, signature))).toThrow();
  });

  it("verifies what the standardwebhooks package signs, and refuses a changed body, id or timestamp", async () => {
    const secret = generateSecret();
    const now = Math.floor(Date.now() / 1000);
    const signature = new Webhook(secret).sign("msg_2", new Date(now * 1000), body);
    expect(await verifyWebhook(body, headersFor("msg_2", now, signature), secret)).toEqual(JSON.parse(body));
    expect(
      await verifyWebhook(new TextEncoder().encode(body), new Headers(headersFor("msg_2", now, signature)), [generateSecret(), secret]),
    ).toEqual(JSON.parse(body));
    expect(await failure(verifyWebhook(`${body} `, headersFor("msg_2", now, signature), secret))).toBe("no_matching_signature");
    expect(await failure(verifyWebhook(body, headersFor("msg_3", now, signature), secret))).toBe("no_matching_signature");
    expect(await failure(verifyWebhook(body, headersFor("msg_2", now + 1, signature), secret))).toBe("no_matching_signature");
    expect(await failure(verifyWebhook(body, headersFor("msg_2", now, "v1,AAAA v2,xyz garbage"), secret))).toBe("no_matching_signature");
  });

  it("refuses stale or future timestamps, missing headers and malformed secrets", async () => {
    const secret = generateSecret();
    const now = Math.floor(Date.now() / 1000);
    const stale = await signWebhook([secret], "msg_4", now - 301, body);
    expect(await failure(verifyWebhook(body, headersFor("msg_4", now - 301, stale), secret))).toBe("timestamp_out_of_range");
    const future = await signWebhook([secret], "msg_4", now + 301, body);
    expect(await failure(verifyWebhook(body, headersFor("msg_4", now + 301, future), secret))).toBe("timestamp_out_of_range");
    expect(await failure(verifyWebhook(body, { "webhook-id": "msg_4" }, secret))).toBe("missing_headers");
    expect(await failure(verifyWebhook(body, headersFor("msg_4", Number.NaN, stale), secret))).toBe("bad_timestamp");
    expect(() => decodeSecret("whsec_c2hvcnQ=")).toThrow(/24 to 64 bytes/);
    expect(() => decodeSecret("whsec_!!!")).toThrow(/base64/);
  });
});
