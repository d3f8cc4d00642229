// deno-lint-ignore-file no-console
// The README's main job: `deno task demo`. Starts two short loops with
// `loops run` in a temporary workspace, lists them, stops one, lists again,
// and cleans up after itself.
const cli = new URL("../cli.ts", import.meta.url).pathname;
const workspace = await Deno.makeTempDir({ prefix: "loops-demo-" });
const children: Deno.ChildProcess[] = [];

function loops(args: string[], quiet = false): Promise<Deno.CommandOutput> {
  if (!quiet) console.log(`\n$ loops ${args.join(" ")}`);
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", cli, "--workspace", workspace, ...args],
    stdout: quiet ? "piped" : "inherit",
    stderr: "inherit",
  }).output();
}

async function listIds(): Promise<string[]> {
  const out = await loops(["list", "--json"], true);
  return JSON.parse(new TextDecoder().decode(out.stdout)).map((
    e: { id: string },
  ) => e.id);
}

try {
  console.log(`Workspace: ${workspace}`);
  for (
    const [id, prompt] of [["loop-demo-auth", "implement auth"], [
      "loop-demo-docs",
      "write the docs",
    ]]
  ) {
    console.log(`\n$ loops run --id ${id} --prompt "${prompt}" -- sleep 30 &`);
    children.push(
      new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          cli,
          "--workspace",
          workspace,
          "run",
          "--id",
          id!,
          "--prompt",
          prompt!,
          "--",
          "sleep",
          "30",
        ],
      }).spawn(),
    );
  }
  for (let i = 0; i < 200 && (await listIds()).length < 2; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await loops(["list"]);
  await loops(["stop", "loop-demo-auth"]);
  await loops(["list"]);
  await loops(["stop", "loop-demo-docs"]);
  await loops(["list"]);
  const codes = await Promise.all(
    children.map(async (c) => (await c.status).code),
  );
  console.log(
    `\n'loops run' exited with ${codes.join(" and ")} (128 + SIGTERM)`,
  );
} finally {
  for (const child of children) {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
    await child.status;
  }
  await Deno.remove(workspace, { recursive: true });
  console.log(`Removed ${workspace}`);
}
