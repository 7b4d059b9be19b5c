// Debian's Chromium driven by playwright-core (no browser downloads): the demo page as a
// person would use it, with a screenshot per step in test-artifacts/ (not committed).
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
/**
 * Without Chromium the browser tests skip, and chromium-check.ts says so once, loudly.
 * CI sets DOVETAIL_REQUIRE_BROWSER=1, which turns the skip into a failure.
 */
export const HAVE_CHROMIUM = existsSync(CHROMIUM);
const ARTIFACTS = "test-artifacts/browser";

export function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    timeout: 30_000,
  });
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true, animations: "disabled" });
  return path;
}

/** Opens the demo and signs in; resolves once the user channel is live. */
export async function signIn(page: Page, url: string, name: string): Promise<void> {
  await page.goto(url, { timeout: 15_000 });
  await page.getByTestId("name").fill(name);
  await page.getByTestId("signin").click();
  await page.locator("#conn-dot[data-status=open]").waitFor({ timeout: 15_000 });
}

export const testid = (id: string) => `[data-testid="${id}"]`;
