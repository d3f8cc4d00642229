// Drives `loops serve`'s page in Debian's headless Chromium through
// playwright-core (never a downloaded browser), for tests/cli/serve_browser_test.ts
// and tests/cli/serve_redis_browser_test.ts, which run it as a child with -A
// (playwright needs more than the test task's permissions). Usage:
// `deno run -A _dashboard_browser.ts URL` where each step is read from stdin
// as a line (`STEP ARG`, ARG being the rest of the line) and answered on
// stdout as one JSON line, so the test can change the registry between
// steps:
// - `row ID`: waits for the row of loop ID; prints its prompt cell's text
//   and whether an <img> exists anywhere in the table.
// - `gone ID`: waits until the row of loop ID is gone.
// - `stop ID`: opens the loop's details, presses Stop, accepts the
//   confirmation, and waits for the row to go.
// - `refuse ID`: as `stop`, but for a stop the server refuses: prints the
//   answer's HTTP status, the page's message and its kind, and whether the
//   row is still there.
// - `cells ID`: waits for the row of loop ID; prints its cells' texts.
// - `hosts`: prints the host filter's options as `[value, text]` pairs.
// - `filter-host TEXT`: chooses the host filter's option whose text is TEXT
//   (`All` for every host); prints the ids of the rows shown.
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
  // The context's viewport (a context's newPage takes no options).
  const page = await browser.newPage();
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
    const space = line.indexOf(" ");
    const step = space < 0 ? line : line.slice(0, space);
    const arg = space < 0 ? "" : line.slice(space + 1);
    const row = `#rows tr[data-id="${arg}"]`;
    // Opens the loop's details, presses Stop (the confirmation is accepted)
    // and waits for the server's answer.
    const pressStop = async () => {
      await page.focus(row);
      await page.keyboard.press("Enter");
      await page.waitForSelector("#details:not([hidden])");
      const answered = page.waitForResponse((r) => r.url().endsWith("/stop"));
      await page.click("#stop");
      return await answered;
    };
    // Polled from here: page.waitForFunction evaluates its predicate in the
    // page when it has to wait, which the page's CSP (no 'unsafe-eval')
    // refuses (seen in CI).
    const settled = async () => {
      for (let i = 0; i < 200; i++) {
        const text = await page.textContent("#message");
        if (!text?.startsWith("Stopping")) return;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      throw new Error("The stop request's message still says Stopping");
    };
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
      // The answer to the stop request, and the update removing the row,
      // may come in either order: wait for both.
      await pressStop();
      await page.waitForSelector(row, { state: "detached", timeout: 10000 });
      await settled();
      out({ message: await page.textContent("#message") });
    } else if (step === "refuse") {
      const response = await pressStop();
      await settled();
      out({
        status: response.status(),
        message: await page.textContent("#message"),
        kind: await page.getAttribute("#message", "data-kind"),
        row: await page.locator(row).count() === 1,
      });
    } else if (step === "cells") {
      await page.waitForSelector(row, { timeout: 10000 });
      out(await page.locator(`${row} > *`).allTextContents());
    } else if (step === "hosts") {
      out(
        await page.evaluate(
          '[...document.querySelectorAll("#host-filter option")].map((o) => [o.value, o.textContent])',
        ),
      );
    } else if (step === "filter-host") {
      await page.selectOption("#host-filter", { label: arg });
      out(
        await page.evaluate(
          '[...document.querySelectorAll("#rows tr")].map((tr) => tr.dataset.id)',
        ),
      );
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
