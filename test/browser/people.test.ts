// The demo's people features in a real browser against the real Worker: the like count is
// right the moment a page joins (a retained value), "load earlier messages" pages back
// through the lobby's history, and contacts show who is online.
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient } from "../../packages/client/src/index";
import { type Hub, startHub } from "../e2e/hub";
import { HAVE_CHROMIUM, launch, screenshot, signIn, testid } from "./browser";

let hub: Hub;
let browser: Browser;

async function lobbyPage(name: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1200, height: 1000 } });
  page.on("pageerror", (err) => console.error("page error:", err.message));
  await signIn(page, hub.url, name);
  await page.locator("#room-dot[data-status=open]").waitFor({ timeout: 15_000 });
  return page;
}

const text = async (page: Page, id: string) => (await page.locator(testid(id)).textContent()) ?? "";

describe.skipIf(!HAVE_CHROMIUM)("demo: likes, history and contacts", () => {
  beforeAll(async () => {
    // A short snapshot, so the lobby has earlier messages to load; a short offline delay,
    // so the test need not wait out ten seconds.
    [hub, browser] = await Promise.all([
      startHub({ devMode: true, vars: { ROOM_SNAPSHOT_MESSAGES: "5", OFFLINE_DELAY_S: "1" } }),
      launch(),
    ]);
  });

  afterAll(async () => {
    await browser?.close();
    await hub?.dispose();
  });

  it("shows the like count on join, loads earlier messages, and shows contacts online and offline", async () => {
    // Eight messages in the lobby before anyone opens the page (the lobby admits dev tokens' rooms claim).
    const seeder = createClient({ url: hub.url, token: await hub.mintToken("dev-seeder", { name: "Seeder" }), lifecycle: false });
    await hub.produce("/v1/rooms/lobby", { visibility: "public" }, "PUT");
    for (let i = 1; i <= 8; i++) await seeder.room("lobby").message(`old ${i}`);
    seeder.close();

    const ada = await lobbyPage("Ada");
    expect(await text(ada, "likes")).toBe("0");
    await ada.getByTestId("like").click();
    await ada.locator(testid("likes"), { hasText: "1" }).waitFor({ timeout: 10_000 });
    await ada.getByTestId("like").click();
    await ada.locator(testid("likes"), { hasText: "2" }).waitFor({ timeout: 10_000 });

    // Bob joins after the likes: the count comes with his first frame, not with the next like.
    const bob = await lobbyPage("Bob");
    expect(await text(bob, "likes")).toBe("2");
    expect(await bob.locator(`${testid("messages")} li`).allInnerTexts()).toEqual([
      "Seederold 4",
      "Seederold 5",
      "Seederold 6",
      "Seederold 7",
      "Seederold 8",
    ]);
    await screenshot(bob, "20-like-count-on-join");

    await bob.getByTestId("load-earlier").click();
    await bob.locator(testid("history-start")).waitFor({ state: "visible", timeout: 10_000 });
    const all = await bob.locator(`${testid("messages")} li`).allInnerTexts();
    expect(all).toEqual(Array.from({ length: 8 }, (_, i) => `Seederold ${i + 1}`));
    expect(await bob.getByTestId("load-earlier").isHidden()).toBe(true);
    await screenshot(bob, "21-earlier-messages-loaded");

    // Ada watches Cleo: offline (never seen), then online when Cleo signs in, then offline with a last-seen time.
    await ada.getByTestId("contact-name").fill("Cleo");
    await ada.getByTestId("add-contact").click();
    await ada.locator(`${testid("contacts")} li[data-online=false]`, { hasText: "never seen" }).waitFor({ timeout: 10_000 });
    const cleo = await lobbyPage("Cleo");
    await ada.locator(`${testid("contacts")} li[data-online=true]`, { hasText: "Cleo" }).waitFor({ timeout: 10_000 });
    await screenshot(ada, "22-contact-online");
    await cleo.close();
    await ada.locator(`${testid("contacts")} li[data-online=false]`, { hasText: "last seen" }).waitFor({ timeout: 15_000 });
    await screenshot(ada, "23-contact-offline-last-seen");
    await Promise.all([ada.close(), bob.close()]);
  });
});
