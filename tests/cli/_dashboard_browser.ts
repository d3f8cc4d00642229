// Drives `loops serve`'s page in Debian's headless Chromium through
// playwright-core (never a downloaded browser), for tests/cli/serve_browser_test.ts,
// which runs it as a child with -A (playwright needs more than the test
// task's permissions). Usage: `deno run -A _dashboard_browser.ts URL STEP...`
// where each step is read from stdin as a line and answered on stdout, so
// the test can change the registry between steps:
// - `row ID`: waits for the row of loop ID; prints its prompt cell's text
//   and whether an <img> exists anywhere in the table.
// - `gone ID`: waits until the row of loop ID is gone.
// - `stop ID`: opens the loop's details, presses Stop, accepts the
//   confirmation, and waits for the row to go.
// - `shot PATH`: saves a screenshot.
// - `alerts`: prints how many dialogs other than the stop confirmation
//   opened (an injected `alert(1)` would count).
import { chromium } from "npm:playwright-core@1.65.1";
import { Lines } from "../_helpers/cli.ts";

const [url] = Deno.args;
const userDataDir = await Deno.makeTempDir({ prefix: "loops_chromium_" });
// Chromium's crash handler and caches go under XDG dirs, not the profile.
const xdg = await Deno.makeTempDir({ prefix: "loops_chromium_xdg_" });
// An empty profile, as launchPersistentContext passes it (--user-data-dir).
const browser = await chromium.launchPersistentContext(userDataDir, {
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-breakpad",
    "--disable-crash-reporter",
  ],
  viewport: { width: 1100, height: 520 },
  env: { ...Deno.env.toObject(), XDG_CONFIG_HOME: xdg, XDG_CACHE_HOME: xdg },
});
const out = (value: unknown) =>
  Deno.stdout.write(new TextEncoder().encode(JSON.stringify(value) + "\n"));
try {
  const page = await browser.newPage({
    viewport: { width: 1100, height: 520 },
  });
  let alerts = 0;
  page.on("dialog", async (dialog) => {
    if (dialog.type() === "confirm") await dialog.accept();
    else {
      alerts++;
      await dialog.dismiss();
    }
  });
  await page.goto(url!);
  await page.waitForSelector('#connection[data-state="live"]');
  const input = new Lines(Deno.stdin.readable);
  for (let line = await input.next(); line; line = await input.next()) {
    const [step, arg = ""] = line.split(" ");
    const row = `#rows tr[data-id="${arg}"]`;
    if (step === "row") {
      await page.waitForSelector(row, { timeout: 10000 });
      out({
        prompt: await page.textContent(`${row} td.prompt`),
        images: await page.locator("#loops img").count(),
      });
    } else if (step === "gone") {
      await page.waitForSelector(row, { state: "detached", timeout: 10000 });
      out({ gone: true });
    } else if (step === "stop") {
      await page.focus(row);
      await page.keyboard.press("Enter");
      await page.waitForSelector("#details:not([hidden])");
      // The answer to the stop request, and the update removing the row,
      // may come in either order: wait for both.
      const answered = page.waitForResponse((r) => r.url().endsWith("/stop"));
      await page.click("#stop");
      await answered;
      await page.waitForSelector(row, { state: "detached", timeout: 10000 });
      await page.waitForFunction(
        '!document.querySelector("#message")?.textContent?.startsWith("Stopping")',
      );
      out({ message: await page.textContent("#message") });
    } else if (step === "shot") {
      await page.screenshot({ path: arg });
      out({ shot: arg });
    } else if (step === "alerts") out({ alerts });
  }
} finally {
  await browser.close();
  await Deno.remove(userDataDir, { recursive: true });
  await Deno.remove(xdg, { recursive: true });
}
