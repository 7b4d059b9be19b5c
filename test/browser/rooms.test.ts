// Two pages in the demo's lobby see each other online, see each other typing, and chat.
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Hub, startHub } from "../e2e/hub";
import { HAVE_CHROMIUM, launch, screenshot, signIn, testid } from "./browser";

let hub: Hub;
let browser: Browser;

async function lobbyPage(name: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1200, height: 820 } });
  await signIn(page, hub.url, name);
  await page.locator("#room-dot[data-status=open]").waitFor({ timeout: 15_000 });
  return page;
}

describe.skipIf(!HAVE_CHROMIUM)("demo room across two pages", () => {
  beforeAll(async () => {
    [hub, browser] = await Promise.all([startHub({ devMode: true }), launch()]);
  });

  afterAll(async () => {
    await browser?.close();
    await hub?.dispose();
  });

  it("shows presence, typing and messages to the other page", async () => {
    const ada = await lobbyPage("Ada");
    const bob = await lobbyPage("Bob");
    for (const page of [ada, bob]) {
      await page.locator(testid("online"), { hasText: "Ada" }).waitFor({ timeout: 10_000 });
      await page.locator(testid("online"), { hasText: "Bob" }).waitFor({ timeout: 10_000 });
    }
    await screenshot(ada, "10-room-both-online");

    await ada.getByTestId("chat-input").pressSequentially("hello", { delay: 20 });
    await bob.locator(testid("typing"), { hasText: "Ada is typing" }).waitFor({ timeout: 10_000 });
    await screenshot(bob, "11-room-bob-sees-ada-typing");

    await ada.getByTestId("send").click();
    await bob.locator(testid("messages"), { hasText: "hello" }).waitFor({ timeout: 10_000 });
    await bob.getByTestId("chat-input").fill("hi Ada");
    await bob.getByTestId("send").click();
    await ada.locator(testid("messages"), { hasText: "hi Ada" }).waitFor({ timeout: 10_000 });
    expect(await ada.locator(`${testid("messages")} li`).allInnerTexts()).toEqual(["Adahello", "Bobhi Ada"]);
    await screenshot(ada, "12-room-chat");

    await bob.close();
    await ada.locator(testid("online"), { hasText: "Bob" }).waitFor({ state: "detached", timeout: 15_000 });
    expect(await ada.locator(testid("online")).textContent()).not.toContain("Bob");
    await screenshot(ada, "13-room-bob-left");
    await ada.close();
  });
});
