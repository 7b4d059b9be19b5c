// globalSetup of the "browser" project: one loud line when Chromium is missing (the
// browser tests then skip), or a failure when DOVETAIL_REQUIRE_BROWSER=1 (CI), so CI can
// never pass without them.
import { CHROMIUM, HAVE_CHROMIUM } from "./browser";

export default function checkChromium(): void {
  if (HAVE_CHROMIUM) return;
  const line = `no Chromium at ${CHROMIUM}: install it (apt-get install chromium) or set CHROMIUM_PATH`;
  if (process.env.DOVETAIL_REQUIRE_BROWSER === "1") throw new Error(`browser tests: ${line} (DOVETAIL_REQUIRE_BROWSER=1)`);
  console.warn(`\n*** BROWSER TESTS SKIPPED: ${line} ***\n`);
}
