// `loops serve`: a live web dashboard of the loops and the JSON API it uses,
// until SIGINT or SIGTERM. This file declares the command and imports
// nothing heavy: the server (cli/_serve_api.ts) and the page
// (cli/_serve_page.ts) are loaded only when `serve` runs, so `loops list`
// pays nothing for them. The security rules live in cli/_serve_api.ts.
import { guardInspectorSignal } from "../src/_inspector_guard.ts";
import { EXIT, UsageError } from "./_errors.ts";
import { defineCommand } from "./_spec.ts";
import { positionalsExactly } from "./_values.ts";

/** `loops serve [--port P] [--listen ADDR] [--token T] [--read-only]` */
export const serveCommand = defineCommand({
  name: "serve",
  summary: "Serve a live web dashboard and JSON API",
  arguments: [],
  options: {
    port: {
      type: "string",
      value: "PORT",
      help: "Port to listen on (default 0: a free port)",
    },
    listen: {
      type: "string",
      value: "ADDR",
      help: "Address to listen on (default 127.0.0.1; others warn)",
    },
    token: {
      type: "string",
      value: "TOKEN",
      help: "Secret the API requires (default: a random one, printed)",
    },
    "read-only": {
      type: "boolean",
      help: "Refuse every action (stop): only show the loops",
    },
  },
  description:
    `Serves one page, with no external files, that shows the loops of this
registry live (Server-Sent Events from the registry's watch), and the JSON API
it uses: GET /api/loops, GET /api/loops/ID, GET /api/events and POST
/api/loops/ID/stop (what 'loops stop' does, with its refusals). Prints the URL
with a secret token at start; every API request needs the token, actions are
POST only and checked for Host and Origin. Listens on 127.0.0.1 unless --listen
says otherwise (then it warns). Runs until SIGINT or SIGTERM (exit 0).`,
  async run(context, { values, positionals }) {
    // A long-lived process: close the V8 inspector that SIGUSR1 would open.
    guardInspectorSignal();
    positionalsExactly(positionals, 0, "");
    const port = parsePort(values.port);
    const token = values.token ?? randomToken();
    if (token.length < 16 || !/^[\x21-\x7e]+$/.test(token)) {
      throw new UsageError(
        "Cannot use --token as it must be 16 or more printable ASCII characters without spaces",
      );
    }
    const { serveDashboard } = await import("./_serve_api.ts");
    await serveDashboard(context, {
      port,
      listen: values.listen,
      token,
      readOnly: values["read-only"] ?? false,
    });
    return EXIT.ok;
  },
});

function parsePort(value: string | undefined): number {
  if (value === undefined) return 0;
  const port = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
  if (!(port >= 0 && port <= 65535)) {
    throw new UsageError(
      `Cannot use --port as it must be an integer from 0 to 65535: current value is ${
        JSON.stringify(value)
      }`,
    );
  }
  return port;
}

/** 32 random bytes, hex. */
function randomToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
