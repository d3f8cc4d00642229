// `loops serve`'s page in Debian's headless Chromium (tests/cli/_dashboard_browser.ts,
// a child with -A): two running loops are listed, one registered from the
// CLI appears without reload and one deregistered disappears, a prompt
// holding HTML renders as text and runs nothing, a stop through the page
// ends the loop. Takes a screenshot (README's docs/dashboard.png with UPDATE_SNAPSHOTS=1). Skips
// when chromium is missing (not under CI=true, where it must be there).
import assert from "node:assert/strict";
import { ignoreOutsideCI, skipReason } from "../_helpers/core.ts";
import {
  Lines,
  loops,
  sleeper,
  tempWorkspace,
  waitFor,
} from "../_helpers/cli.ts";
import { serve } from "../_helpers/serve.ts";

const SKIP = skipReason({ tools: ["chromium"] });
const XSS = "<img src=x onerror=alert(1)>";
const DRIVER = new URL("./_dashboard_browser.ts", import.meta.url).pathname;
// README's screenshot, rewritten only with UPDATE_SNAPSHOTS=1 (as the help
// snapshots are); otherwise the shot goes to the test's workspace.
const README_SHOT =
  new URL("../../docs/dashboard.png", import.meta.url).pathname;

Deno.test({
  name: `serve's page in Chromium lists, follows, escapes and stops loops${
    SKIP ? ` (skipped: ${SKIP})` : ""
  }`,
  ignore: ignoreOutsideCI(SKIP),
  async fn() {
    await using ws = await tempWorkspace();
    await using a = await sleeper();
    await using b = await sleeper();
    await using c = await sleeper();
    const register = (pid: number, id: string, prompt: string) =>
      loops(["register", "--pid", `${pid}`, "--prompt", prompt, "--id", id], {
        ws: ws.path,
      });
    await register(a.pid, "loop-build", "Fix the flaky build on main");
    await register(b.pid, "loop-html", XSS);
    await using server = await serve(ws);
    const browser = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", DRIVER, `${server.base}/#token=${server.token}`],
      stdin: "piped",
      stdout: "piped",
      // Inherited: with its stderr piped, the driver's first page wait hung
      // (even with the pipe drained), on Deno 2.9.6 and playwright-core 1.65.1.
      stderr: "inherit",
      env: { NO_COLOR: "1" },
    }).spawn();
    const stderr = "(on the test's stderr)";
    const writer = browser.stdin.getWriter();
    const answers = new Lines(browser.stdout);
    const ask = async (line: string) => {
      await writer.write(new TextEncoder().encode(line + "\n"));
      const answer = await answers.next();
      assert.ok(answer, `No answer to ${line}: ${stderr}`);
      return JSON.parse(answer);
    };
    try {
      assert.equal((await ask("row loop-build")).images, 0);
      const html = await ask("row loop-html");
      assert.deepEqual(html, { prompt: XSS, images: 0 });
      await register(c.pid, "loop-new", "Appears without a reload");
      await ask("row loop-new");
      const shot = Deno.env.get("UPDATE_SNAPSHOTS")
        ? README_SHOT
        : `${ws.path}/dashboard.png`;
      await ask(`shot ${shot}`);
      assert.ok((await Deno.stat(shot)).size > 0);
      await loops(["deregister", "loop-new"], { ws: ws.path });
      await ask("gone loop-new");
      const stopped = await ask("stop loop-build");
      assert.match(stopped.message, /Stopped loop "loop-build"/);
      await waitFor(() => a.exited(), "the stopped loop to exit");
      assert.ok(!b.exited());
      assert.deepEqual(await ask("alerts"), { alerts: 0 });
    } finally {
      await writer.close();
      const status = await browser.status;
      assert.equal(status.code, 0, stderr);
      await answers.rest();
    }
  },
});
