import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { installClock } from "./clock";
import { call, connect, createJob, mintToken, uniqueId } from "./helpers";

describe("a ticket around its expiry", () => {
  it("is not redeemed a second time when the user's hub already counts it as expired but the Worker does not", async () => {
    const owner = uniqueId("alice");
    const job = await createJob(owner);
    const res = await call("/v1/tickets", { method: "POST", headers: { Authorization: `Bearer ${await mintToken(owner)}` } });
    const { ticket, expires_at } = await res.json<{ ticket: string; expires_at: string }>();
    const first = await connect(`/v1/ws/job/${job}`, { query: { ticket } });
    await first.next("connected");
    // The hub's clock runs a little ahead of the Worker's: by it, the ticket has expired
    // and its row may be forgotten; the Worker still finds the ticket valid.
    await installClock([env.USER_HUB.getByName(owner)], Date.parse(expires_at) + 1);
    const second = await connect(`/v1/ws/job/${job}`, { query: { ticket } });
    expect((await second.closed()).code).toBe(4001);
    first.hangUp();
  });
});
