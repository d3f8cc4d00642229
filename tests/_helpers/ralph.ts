// ralph's own registry code, built into a small CLI (`seedreg`) from the
// reference copy beside this checkout (../shared/ralph-reference), for tests
// that must run the real writer rather than an emulation.

const REFERENCE = new URL("../../../shared/ralph-reference/", import.meta.url)
  .pathname;

let built: string | undefined;

/**
 * The path of the `seedreg` binary, built on first use (about 20 s; it may
 * install Debian's Rust crates). `undefined` when the reference folder is
 * not beside this checkout.
 */
export async function seedreg(): Promise<string | undefined> {
  if (built !== undefined) return built;
  try {
    await Deno.stat(`${REFERENCE}/build.sh`);
  } catch {
    return undefined;
  }
  const output = await new Deno.Command(`${REFERENCE}/build.sh`, {
    stdin: "null",
  }).output();
  const lines = new TextDecoder().decode(output.stdout).trim().split("\n");
  if (!output.success) {
    throw new Error(
      `Cannot build ralph's reference registry: ${
        new TextDecoder().decode(output.stderr)
      }`,
    );
  }
  built = lines.at(-1);
  return built;
}

/** Whether the reference folder is there (else the test says so and skips). */
export async function hasReference(): Promise<boolean> {
  try {
    await Deno.stat(`${REFERENCE}/build.sh`);
    return true;
  } catch {
    return false;
  }
}
