// The ops page in a real browser while the hub is under load: sockets of every kind,
// a steady publisher, refusals and errors. Its screenshot is test-artifacts/browser/ops-under-load.png.
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { E2E_PRODUCER_KEY } from "../e2e/harness";
import { type Hub, startHub, uniqueId } from "../e2e/hub";
import { launch, screenshot, testid } from "./browser";

let hub: Hub;
let browser: Browser;
const sockets: WebSocket[] = [];

beforeAll(async () => {
  [hub, browser] = await Promise.all([startHub(), launch()]);
});

afterAll(async () => {
  for (const ws of sockets) ws.terminate();
  await browser?.close();
  await hub?.dispose();
});

/** Opens a socket and resolves with its first frame (`connected`, or why it closed). */
function open(path: string, token: string): Promise<{ ws: WebSocket; first: any }> {
  const ws = new WebSocket(new URL(path, hub.url).href.replace(/^http/, "ws"), ["dovetail.v1", `bearer.${token}`]);
  sockets.push(ws);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no first frame on ${path}`)), 15_000);
    ws.once("message", (data) => {
      clearTimeout(timer);
      resolve({ ws, first: JSON.parse(String(data)) });
    });
    // A refused socket is accepted and closed at once, with no frame.
    ws.once("close", (code) => {
      clearTimeout(timer);
      resolve({ ws, first: { type: "closed", code } });
    });
    ws.once("error", reject);
  });
}

async function load(): Promise<{ busy: string; stop: () => void }> {
  const owner = uniqueId("ops-owner");
  const token = await hub.mintToken(owner);
  const jobs = [uniqueId("render"), uniqueId("encode"), uniqueId("upload")];
  for (const id of jobs) await hub.produce("/v1/jobs", { id, owner, title: id });
  const room = uniqueId("lobby");
  const put = await fetch(new URL(`/v1/rooms/${room}`, hub.url), {
    method: "PUT",
    headers: { Authorization: `Bearer ${E2E_PRODUCER_KEY}`, "Content-Type": "application/json" },
    body: JSON.stringify({ visibility: "public" }),
  });
  expect(put.status).toBe(200);
  const plan: [string, number][] = [
    [`/v1/ws/job/${jobs[0]}`, 12],
    [`/v1/ws/job/${jobs[1]}`, 6],
    [`/v1/ws/job/${jobs[2]}`, 3],
    [`/v1/ws/room/${room}`, 5],
  ];
  for (const [path, count] of plan) for (let i = 0; i < count; i++) await open(path, token);
  for (let i = 0; i < 4; i++) await open("/v1/ws/user", await hub.mintToken(uniqueId("viewer")));
  // Refusals: a stranger on someone else's job; errors: frames no hub knows. Both go on
  // through the test, so their chart has something to show.
  const stranger = await hub.mintToken(uniqueId("stranger"));
  expect((await open(`/v1/ws/job/${jobs[1]}`, stranger)).first).toEqual({ type: "closed", code: 4004 });
  const { ws: clumsy } = await open(`/v1/ws/job/${jobs[2]}`, token);

  let progress = 0;
  const publisher = setInterval(() => {
    progress = (progress + 1) % 100;
    void hub.produce(`/v1/jobs/${jobs[0]}/events`, { progress, data: { tick: progress } }).catch(() => {});
    if (progress % 3 === 0) void hub.produce(`/v1/jobs/${jobs[1]}/events`, { message: `tick ${progress}` }).catch(() => {});
    if (progress % 5 === 0) clumsy.send(JSON.stringify({ type: "bogus" }));
    if (progress % 10 === 0) void open(`/v1/ws/job/${jobs[1]}`, stranger).catch(() => {});
  }, 100);
  return { busy: `job:${jobs[0]}`, stop: () => clearInterval(publisher) };
}

describe("ops page", () => {
  it("signs in with a key kept in memory only and charts the hub under load", { timeout: 120_000 }, async () => {
    const running = await load();
    const page: Page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    page.on("pageerror", (err) => errors.push(err.message));
    try {
      await page.goto(`${hub.url}/ops`, { timeout: 15_000 });
      await page.getByTestId("key").fill("not-a-key-0123456789abcdef");
      await page.getByTestId("connect").click();
      await page.locator(testid("signin-error"), { hasText: "refused" }).waitFor({ timeout: 15_000 });

      await page.getByTestId("key").fill(E2E_PRODUCER_KEY);
      await page.getByTestId("connect").click();
      // Sockets: 12 + 6 + 3 + 1 job, 5 room, 4 user (the 2nd+ socket of a channel is reported within 5 s).
      await page.waitForFunction(() => Number(document.getElementById("open-total")?.textContent?.replaceAll(",", "")) >= 31, null, {
        timeout: 30_000,
      });
      await page.locator(`tr[data-channel="${running.busy}"] td:nth-child(2)`, { hasText: /^12$/ }).waitFor({ timeout: 30_000 });
      await page.waitForFunction(() => Number(document.getElementById("delivered-rate")?.dataset.value) > 0, null, { timeout: 30_000 });
      await page.waitForFunction(() => document.querySelectorAll("#chart-traffic polyline").length === 2, null, { timeout: 10_000 });
      // Let a few more refreshes land, so the charts show a line rather than a dot.
      await page.waitForFunction(
        () => (document.querySelector("#chart-sockets polyline")?.getAttribute("points") ?? "").split(" ").length >= 8,
        null,
        { timeout: 40_000 },
      );
      const path = await screenshot(page, "ops-under-load");
      expect(path).toContain("ops-under-load.png");

      expect(await page.locator(testid("top-channels")).textContent()).toContain(running.busy);
      expect(Number(await page.locator("#trouble-rate").textContent())).toBeGreaterThanOrEqual(0);
      // The key is nowhere but the module's memory.
      const kept = await page.evaluate(() => ({
        local: localStorage.length,
        session: sessionStorage.length,
        cookie: document.cookie,
        input: (document.getElementById("key") as HTMLInputElement).value,
        url: location.href,
      }));
      expect(kept).toEqual({ local: 0, session: 0, cookie: "", input: "", url: `${hub.url}/ops` });
      expect(await page.content()).not.toContain(E2E_PRODUCER_KEY);
      expect(errors).toEqual([]);
    } finally {
      running.stop();
      await page.close();
    }
  });
});
