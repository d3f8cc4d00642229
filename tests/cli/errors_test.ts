// cli/_errors.ts: the exit code of every error `main` can meet.
import assert from "node:assert/strict";
import {
  CorruptRegistryError,
  LockTimeoutError,
  LoopIdTakenError,
  LoopNotFoundError,
} from "../../mod.ts";
import { ParseArgsError } from "../../cli/_args.ts";
import {
  CliError,
  EXIT,
  EXIT_CODE_HELP,
  exitCodeOf,
  UsageError,
} from "../../cli/_errors.ts";

Deno.test("exitCodeOf() gives a CliError its own code", () => {
  assert.equal(exitCodeOf(new CliError("Cannot stop")), 1);
  assert.equal(exitCodeOf(new CliError("Cannot stop", { exitCode: 3 })), 3);
  assert.equal(exitCodeOf(new UsageError("Missing command")), 2);
  assert.equal(exitCodeOf(new ParseArgsError("Unknown option '-x'")), 2);
});

Deno.test("exitCodeOf() gives the library's and Deno's errors 1", () => {
  const errors = [
    new LoopNotFoundError("a", "/ws/.ralph/loops.json"),
    new LoopIdTakenError("a", "/ws/.ralph/loops.json"),
    new LockTimeoutError("/ws/.ralph/loops.json", 10),
    new CorruptRegistryError("/ws/.ralph/loops.json", "it is not valid JSON", {
      kind: "not-json",
    }),
    new Deno.errors.NotCapable("Requires read access"),
    new Deno.errors.AlreadyExists("taken"),
    new Deno.errors.PermissionDenied("denied"),
    new Deno.errors.NotFound("gone"),
    new RangeError("out of range"),
    // A failed system call, by its code.
    Object.assign(new Error("Not a directory"), { code: "ENOTDIR" }),
    // A subclass without a row takes its ancestor's.
    new (class extends Deno.errors.NotFound {})("gone too"),
  ];
  for (const error of errors) assert.equal(exitCodeOf(error), 1, error.name);
});

Deno.test("exitCodeOf() leaves an unexpected error to be reported", () => {
  for (
    const error of [
      new TypeError("x is undefined"),
      new Error("plain"),
      Object.assign(new Error("no code"), { code: "toString" }),
      Object.assign(new Error("named"), { name: "toString" }),
      "a string",
      undefined,
    ]
  ) {
    assert.equal(exitCodeOf(error), undefined, String(error));
  }
});

Deno.test("EXIT_CODE_HELP explains every exit code", () => {
  assert.deepEqual(
    EXIT_CODE_HELP.map(([code]) => code).sort((a, b) => a - b),
    Object.values(EXIT).sort((a, b) => a - b),
  );
});
