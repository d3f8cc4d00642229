// cli/_errors.ts: the exit code of every error `main` can meet, and the
// CLI's wording of the library's messages.
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
  cliMessage,
  EXIT,
  EXIT_CODE_HELP,
  exitCodeOf,
  UsageError,
} from "../../cli/_errors.ts";

const FILE = "/ws/.ralph/loops.json";

Deno.test("exitCodeOf() gives a CliError its own code", () => {
  assert.equal(exitCodeOf(new CliError("Cannot stop")), 1);
  assert.equal(exitCodeOf(new CliError("Cannot stop", { exitCode: 9 })), 9);
  assert.equal(exitCodeOf(new UsageError("Missing command")), 2);
  assert.equal(exitCodeOf(new ParseArgsError("Unknown option '-x'")), 2);
});

Deno.test("exitCodeOf() tells 'no such loop' from every failure", () => {
  const cases: [unknown, number][] = [
    [new LoopNotFoundError("a", FILE), EXIT.notFound],
    [new LockTimeoutError(FILE, 10), EXIT.lockTimeout],
    [
      new CorruptRegistryError(FILE, "it is not valid JSON", {
        kind: "not-json",
      }),
      EXIT.corrupt,
    ],
    [new Deno.errors.NotCapable("Requires read access"), EXIT.permission],
    [new Deno.errors.PermissionDenied("denied"), EXIT.permission],
    // A subclass without a row takes its ancestor's (an untrusted registry
    // is a PermissionDenied).
    [
      new (class UntrustedRegistryError
        extends Deno.errors.PermissionDenied {})(
        "untrusted",
      ),
      EXIT.permission,
    ],
    [new LoopIdTakenError("a", FILE), EXIT.failure],
    [new Deno.errors.AlreadyExists("taken"), EXIT.failure],
    // A missing file or directory is not a missing loop.
    [new Deno.errors.NotFound("gone"), EXIT.failure],
    [new (class extends Deno.errors.NotFound {})("gone too"), EXIT.failure],
    [new RangeError("out of range"), EXIT.failure],
    // A failed system call, by its code.
    [Object.assign(new Error("Not a directory"), { code: "ENOTDIR" }), 1],
  ];
  for (const [error, code] of cases) {
    assert.equal(exitCodeOf(error), code, String(error));
  }
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

Deno.test("EXIT codes are distinct and EXIT_CODE_HELP explains each once", () => {
  const codes = Object.values(EXIT);
  assert.equal(new Set(codes).size, codes.length);
  assert.deepEqual(
    EXIT_CODE_HELP.map(([code]) => code).sort((a, b) => a - b),
    [...codes].sort((a, b) => a - b),
  );
  // 1 is Deno's own failure code: no answer may use it.
  assert.equal(EXIT.failure, 1);
  for (const answer of [EXIT.notFound, EXIT.unknown, EXIT.timeout]) {
    assert.ok(answer > 2, String(answer));
  }
});

Deno.test("cliMessage() speaks CLI where the library speaks API", () => {
  const timeout = cliMessage(new LockTimeoutError(FILE, 2500));
  assert.equal(
    timeout,
    `Cannot lock registry "${FILE}" as another process held it for 2.5 s: retry, raise --lock-timeout SECONDS, or find the holder with 'fuser ${FILE}'`,
  );
  const corrupt = cliMessage(
    new CorruptRegistryError(FILE, "it is not valid JSON", {
      kind: "not-json",
    }),
  );
  assert.match(corrupt, /^Cannot read registry ".*" as it is not valid JSON: /);
  assert.match(corrupt, /'loops repair'/);
  const taken = cliMessage(new LoopIdTakenError("a", FILE));
  assert.match(taken, /choose another --id$/);
  for (const message of [timeout, corrupt, taken]) {
    assert.doesNotMatch(message, /lockTimeoutMs|registry\.|\(\)|LoopRegistry/);
  }
  // The CLI's own messages and non-errors pass through.
  assert.equal(cliMessage(new CliError("Cannot x as y")), "Cannot x as y");
  assert.equal(cliMessage("text"), "text");
});
