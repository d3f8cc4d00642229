// `loops serve`'s page in Debian's headless Chromium (tests/cli/_dashboard_browser.ts,
// a child with -A): two running loops are listed, one registered from the
// CLI appears without reload and one deregistered disappears, a prompt
// holding HTML renders as text and runs nothing, a stop through the page
// ends the loop. Takes a screenshot (README's docs/dashboard.png with UPDATE_SNAPSHOTS=1). Skips
// when chromium is missing (not under CI=true, where it must be there).
import assert from "node:assert/strict";
import { ignoreOutsideCI, skipReason } from "../_helpers/core.ts";
import { loops, sleeper, tempWorkspace, waitFor } from "../_helpers/cli.ts";
import { browse, serve } from "../_helpers/serve.ts";

const SKIP = skipReason({ tools: ["chromium"] });
const XSS = "<img src=x onerror=alert(1)>";
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
    await using page = browse(server);
    const ask = page.ask;
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
  },
});
