// A reused pid is never signalled, for entries written by ralph's own code
// (no recorded identity) and for ours after ralph rewrote the file (which
// drops our identity fields). The reuse is forced: in a fresh pid namespace,
// /proc/sys/kernel/ns_last_pid makes the next process get the dead loop's
// pid. Needs root, `unshare`, and ralph's reference code beside the checkout.
import assert from "node:assert/strict";
import { CLI } from "../_helpers/cli.ts";
import {
  ignoreOutsideCI,
  rootSkipReason,
  tempWorkspace,
} from "../_helpers/core.ts";
import { hasReference, seedreg } from "../_helpers/ralph.ts";

const skip = rootSkipReason("unshare") ??
  (await hasReference() ? undefined : "needs ../shared/ralph-reference");

/** The script run as pid 1 of a new namespace; prints `key=value` lines. */
const SCRIPT = `
sleep 300 & P=$!
if [ "$MODE" = ralph ]; then
  "$SEEDREG" --workspace "$WS" register --prompt ralph --id victim --pid $P >/dev/null
else
  "$DENO" run -A --quiet "$CLI" -w "$WS" register --pid $P --prompt ours --id victim >/dev/null
  # ralph registers another loop: its rewrite drops our identity fields.
  sleep 300 & O=$!
  "$SEEDREG" --workspace "$WS" register --prompt other --id other --pid $O >/dev/null
fi
grep -c pid_start_time "$WS/.ralph/loops.json" | sed 's/^/identities=/'
kill $P; wait $P 2>/dev/null
# The reused process must start well after the entry's 'started'.
sleep 3
echo $((P - 1)) > /proc/sys/kernel/ns_last_pid
sleep 300 & Q=$!
echo "reused=$([ "$Q" = "$P" ] && echo yes || echo no)"
"$DENO" run -A --quiet "$CLI" -w "$WS" stop victim 2>"$WS/stop.err"
echo "stop=$?"
kill -0 $Q 2>/dev/null && echo "alive=yes" || echo "alive=no"
`;

for (const mode of ["ralph", "ours"]) {
  Deno.test({
    name: `loops stop refuses a reused pid of an entry ${
      mode === "ralph" ? "written by ralph" : "of ours that ralph rewrote"
    }`,
    ignore: ignoreOutsideCI(skip),
    async fn() {
      await using ws = await tempWorkspace();
      const output = await new Deno.Command("unshare", {
        args: [
          "--pid",
          "--fork",
          "--kill-child",
          "--mount-proc",
          "sh",
          "-c",
          SCRIPT,
        ],
        env: {
          MODE: mode,
          WS: ws.path,
          CLI,
          DENO: Deno.execPath(),
          SEEDREG: (await seedreg())!,
          NO_COLOR: "1",
        },
        stdin: "null",
      }).output();
      const out = new TextDecoder().decode(output.stdout);
      const err = await Deno.readTextFile(`${ws.path}/stop.err`).catch(() =>
        ""
      );
      const values = Object.fromEntries(
        out.trim().split("\n").map((line) =>
          line.split("=") as [string, string]
        ),
      );
      assert.equal(values.identities, "0", `no identity left: ${out}`);
      assert.equal(values.reused, "yes", out);
      assert.notEqual(values.stop, "0", `stop refused: ${out}\n${err}`);
      assert.match(err, /now belongs to another process/);
      assert.equal(
        values.alive,
        "yes",
        "the reusing process was not signalled",
      );
    },
  });
}
