if (import.meta.main) Deno.exitCode = 0;
