// The demo's live output in a real browser against the real Worker: a simulated job types a
// paragraph into its output stream; a forced reload in the middle shows the text so far and
// the rest continues, whole and in order; cancel stops the writer.
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TYPING_PARAGRAPH } from "../../src/routes/demo-paragraph";
import { type Hub, startHub } from "../e2e/hub";
import { HAVE_CHROMIUM, launch, screenshot, signIn, testid } from "./browser";

let hub: Hub;
let browser: Browser;

async function newPage(): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  page.on("pageerror", (err) => console.error("page error:", err.message));
  return page;
}

const shown = async (page: Page) => (await page.locator(testid("output-text")).textContent()) ?? "";
const wordsShown = (page: Page, count: number, timeout = 15_000) =>
  page.waitForFunction((n) => (document.getElementById("output-text")?.textContent ?? "").split(" ").length >= n, count, { timeout });

describe.skipIf(!HAVE_CHROMIUM)("demo page: live output", () => {
  beforeAll(async () => {
    [hub, browser] = await Promise.all([startHub({ devMode: true }), launch()]);
  });

  afterAll(async () => {
    await browser?.close();
    await hub?.dispose();
  });

  it("types a paragraph; a reload mid-stream shows the text so far and the rest continues, whole and in order", async () => {
    const page = await newPage();
    await signIn(page, hub.url, "Lin");
    await page.getByTestId("start-output").click();
    await wordsShown(page, 12);
    const before = await shown(page);
    expect(TYPING_PARAGRAPH.startsWith(before)).toBe(true);
    await screenshot(page, "06-output-typing");

    await page.reload({ timeout: 15_000 });
    // Signed in again from sessionStorage; the output reader starts from the beginning.
    await page.waitForFunction((n) => (document.getElementById("output-text")?.textContent ?? "").length >= n, before.length, {
      timeout: 15_000,
    });
    const afterReload = await shown(page);
    expect(TYPING_PARAGRAPH.startsWith(afterReload)).toBe(true);
    expect(afterReload.length).toBeLessThan(TYPING_PARAGRAPH.length);
    await screenshot(page, "07-output-after-reload");

    await page.locator(`${testid("output-text")}[data-closed=true]`).waitFor({ timeout: 20_000 });
    expect(await shown(page)).toBe(TYPING_PARAGRAPH);
    expect(await page.locator(testid("output-status")).getAttribute("data-status")).toBe("completed");
    await screenshot(page, "08-output-complete");
    await page.close();
  });

  it("cancel stops the writer mid-paragraph", async () => {
    const page = await newPage();
    await signIn(page, hub.url, "Mae");
    await page.getByTestId("start-output").click();
    await wordsShown(page, 5);
    await page.getByTestId("cancel-output").click();
    await page.locator(`${testid("output-status")}[data-status=cancelled]`).waitFor({ timeout: 15_000 });
    await page.locator(`${testid("output-text")}[data-closed=true]`).waitFor({ timeout: 15_000 });
    const text = await shown(page);
    expect(TYPING_PARAGRAPH.startsWith(text)).toBe(true);
    expect(text.length).toBeLessThan(TYPING_PARAGRAPH.length);
    await screenshot(page, "09-output-cancelled");
    await page.close();
  });
});
