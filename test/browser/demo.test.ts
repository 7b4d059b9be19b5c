// The demo page in a real browser against the real Worker: sign in, run a staged job to
// 100%, cancel one. Room chat across two pages is in rooms.test.ts (needs the rooms hub).
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Hub, startHub } from "../e2e/hub";
import { HAVE_CHROMIUM, launch, screenshot, signIn, testid } from "./browser";

let hub: Hub;
let browser: Browser;

async function newPage(): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1200, height: 820 } });
  page.on("pageerror", (err) => console.error("page error:", err.message));
  return page;
}

const text = async (page: Page, id: string) => (await page.locator(testid(id)).textContent()) ?? "";

describe.skipIf(!HAVE_CHROMIUM)("demo page", () => {
  beforeAll(async () => {
    [hub, browser] = await Promise.all([startHub({ devMode: true }), launch()]);
  });

  afterAll(async () => {
    await browser?.close();
    await hub?.dispose();
  });

  it("signs in, runs a staged job and shows the bar reach 100% on completion", async () => {
    const page = await newPage();
    await page.goto(hub.url, { timeout: 15_000 });
    await screenshot(page, "01-sign-in");
    await signIn(page, hub.url, "Ada");
    expect(await text(page, "connection")).toContain("live");
    await screenshot(page, "02-signed-in");

    await page.getByTestId("start-job").click();
    await page.locator(`${testid("job-status")}[data-status=running]`).waitFor({ timeout: 15_000 });
    await page.waitForFunction(() => Number.parseFloat(document.getElementById("bar-fill")?.style.width ?? "0") >= 30, null, {
      timeout: 15_000,
    });
    const stage = await text(page, "job-stage");
    expect(["Generating artwork", "Upscaling"]).toContain(stage);
    expect(await text(page, "job-eta")).toMatch(/about \d+ s left/);
    await screenshot(page, "03-job-running");

    await page.locator(`${testid("job-status")}[data-status=completed]`).waitFor({ timeout: 20_000 });
    expect(await text(page, "job-progress")).toBe("100%");
    expect(await page.locator(testid("bar")).evaluate((el) => (el as HTMLElement).style.width)).toBe("100%");
    expect(await text(page, "job-stage")).toBe("Done");
    await screenshot(page, "04-job-completed");
    await page.close();
  });

  it("cancels a running job from the page", async () => {
    const page = await newPage();
    await signIn(page, hub.url, "Grace");
    await page.getByTestId("start-job").click();
    await page.locator(`${testid("job-status")}[data-status=running]`).waitFor({ timeout: 15_000 });
    await page.getByTestId("cancel-job").click();
    await page.locator(`${testid("job-status")}[data-status=cancelled]`).waitFor({ timeout: 15_000 });
    const progress = Number.parseInt(await text(page, "job-progress"), 10);
    expect(progress).toBeGreaterThan(0);
    expect(progress).toBeLessThan(100);
    await screenshot(page, "05-job-cancelled");
    await page.close();
  });
});
