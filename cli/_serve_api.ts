// The server of `loops serve`: the page, the JSON API and the event stream.
// Its security rules, all here:
// - Every request must name an allowed Host (the loopback names, the listen
//   address, and for a wildcard listen this host's names and addresses), so
//   a DNS-rebound name never reaches the API.
// - Every /api/ request needs the token (header `Authorization: Bearer T`
//   or `X-Loops-Token: T`; a GET may pass `?token=T`, as EventSource cannot
//   set headers); compared in constant time.
// - A change (stop) is a POST only, never from the query token, refused
//   when an Origin other than the server's own or a cross-site
//   Sec-Fetch-Site is sent, and refused under --read-only.
// - Responses carry a CSP allowing only this server's script and style, no
//   framing and no referrer; the page renders data with textContent only.
import { LockTimeoutError, LoopNotFoundError } from "../mod.ts";
import { CliError, EXIT } from "./_errors.ts";
import { stringifyJson, toJson } from "./_format.ts";
import { Hub } from "./_serve_hub.ts";
import { PAGE_CSS, PAGE_HTML, PAGE_JS } from "./_serve_page.ts";
import type { CommandContext } from "./_spec.ts";
import { stopLoop } from "./stop.ts";

/** How {@linkcode serveDashboard} serves. */
export interface ServeOptions {
  /** 0: a free port. */
  port: number;
  /** @default {"127.0.0.1"} */
  listen?: string;
  /** The secret every API request needs. */
  token: string;
  /** Refuse every action. */
  readOnly: boolean;
}

const HEADERS = {
  "cache-control": "no-store",
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "referrer-policy": "no-referrer",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
};

function respond(
  body: BodyInit | null,
  status: number,
  type: string,
  extra: Record<string, string> = {},
): Response {
  return new Response(body, {
    status,
    headers: { ...HEADERS, "content-type": type, ...extra },
  });
}

function json(value: unknown, status = 200): Response {
  return respond(
    stringifyJson(value),
    status,
    "application/json; charset=utf-8",
  );
}

function failure(status: number, error: string): Response {
  return json({ ok: false, error }, status);
}

/** Whether `address` is a loopback address or name. */
export function isLoopback(address: string): boolean {
  const a = address.replace(/^\[|\]$/g, "").toLowerCase();
  return a === "localhost" || a === "::1" || /^127\.\d+\.\d+\.\d+$/.test(a);
}

function isWildcard(address: string): boolean {
  return address === "0.0.0.0" || address === "::" || address === "[::]";
}

function hostPart(address: string): string {
  return address.includes(":") && !address.startsWith("[")
    ? `[${address}]`
    : address;
}

/** The Host header values the server answers to. */
function allowedHosts(listen: string, port: number): Set<string> {
  const names = ["127.0.0.1", "localhost", "[::1]"];
  if (isWildcard(listen)) {
    names.push(Deno.hostname());
    for (const net of Deno.networkInterfaces()) names.push(net.address);
  } else names.push(listen);
  return new Set(names.map((n) => `${hostPart(n).toLowerCase()}:${port}`));
}

function sameSecret(given: string | null, token: string): boolean {
  if (given === null || given.length !== token.length) return false;
  let diff = 0;
  for (let i = 0; i < token.length; i++) {
    diff |= given.charCodeAt(i) ^ token.charCodeAt(i);
  }
  return diff === 0;
}

function givenToken(request: Request, url: URL): string | null {
  const auth = request.headers.get("authorization");
  if (auth?.startsWith("Bearer ")) return auth.slice(7);
  const header = request.headers.get("x-loops-token");
  if (header !== null) return header;
  return request.method === "GET" ? url.searchParams.get("token") : null;
}

/** Why a change request must be refused as cross-site, if so. */
function crossSite(request: Request, host: string): string | undefined {
  const origin = request.headers.get("origin");
  if (origin !== null && origin !== `http://${host}`) {
    return `Refusing a request from origin ${JSON.stringify(origin)}`;
  }
  const site = request.headers.get("sec-fetch-site");
  if (site !== null && site !== "same-origin" && site !== "none") {
    return `Refusing a ${site} request`;
  }
  return undefined;
}

/** Feeds `hub` from the registry's watch until `signal` aborts. */
async function feed(
  context: CommandContext,
  hub: Hub,
  signal: AbortSignal,
): Promise<void> {
  const registry = context.openRegistry({
    lockTimeoutMs: Math.min(context.lockTimeoutMs ?? Infinity, 1000),
  });
  try {
    while (!signal.aborted) {
      try {
        for await (
          const loops of registry.watch({ signal, intervalMs: 1000 })
        ) {
          hub.publish(stringifyJson(loops.map(toJson)));
        }
      } catch (error) {
        if (!(error instanceof LockTimeoutError)) {
          context.io.err(
            `loops: ${error instanceof Error ? error.message : error}`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  } finally {
    await registry.close();
  }
}

const STOP_PATH = /^\/api\/loops\/([^/]+)\/stop$/;

/** A path segment decoded; `""` (no loop's id) when malformed. */
function segment(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  try {
    return decodeURIComponent(raw);
  } catch {
    return "";
  }
}
const LOOP_PATH = /^\/api\/loops\/([^/]+)$/;

/** `POST /api/loops/:id/stop`: `loops stop ID`, its messages as JSON. */
async function stop(
  context: CommandContext,
  id: string,
  request: Request,
): Promise<Response> {
  let force = false;
  if (Number(request.headers.get("content-length") ?? 0) > 4096) {
    return failure(413, "Cannot read a request body over 4096 bytes");
  }
  const text = await request.text();
  if (text.trim() !== "") {
    try {
      force = JSON.parse(text)?.force === true;
    } catch {
      return failure(400, "Cannot read the request body as JSON");
    }
  }
  const messages: string[] = [];
  const io = {
    ...context.io,
    out: (line: string) => messages.push(line),
    err: (line: string) => messages.push(line.replace(/^loops: /, "")),
  };
  try {
    await stopLoop({ io, registry: context.registry }, id, {
      signal: "SIGTERM",
      timeoutSeconds: 5,
      force,
    });
    return json({ ok: true, messages });
  } catch (error) {
    if (error instanceof LoopNotFoundError) return failure(404, error.message);
    if (!(error instanceof CliError)) throw error;
    const status = error.exitCode === EXIT.timeout
      ? 504
      : error.exitCode === EXIT.permission
      ? 403
      : 409;
    return json({
      ok: false,
      error: error.message,
      exitCode: error.exitCode,
      messages,
    }, status);
  }
}

/** The request handler, every rule of the header applied. */
function handler(
  context: CommandContext,
  hub: Hub,
  options: ServeOptions,
  hosts: () => Set<string>,
): (request: Request) => Promise<Response> {
  return async (request) => {
    const host = (request.headers.get("host") ?? "").toLowerCase();
    if (!hosts().has(host)) {
      return failure(421, "Refusing a request for another host name");
    }
    const url = new URL(request.url);
    const path = url.pathname;
    if (!path.startsWith("/api/")) {
      if (request.method !== "GET" && request.method !== "HEAD") {
        return failure(405, "Only GET is allowed here");
      }
      if (path === "/") {
        return respond(PAGE_HTML, 200, "text/html; charset=utf-8");
      }
      if (path === "/app.js") {
        return respond(PAGE_JS, 200, "text/javascript; charset=utf-8");
      }
      if (path === "/app.css") {
        return respond(PAGE_CSS, 200, "text/css; charset=utf-8");
      }
      return failure(404, "Not found");
    }
    if (!sameSecret(givenToken(request, url), options.token)) {
      return failure(401, "Refusing a request without the right token");
    }
    const stopId = segment(path.match(STOP_PATH)?.[1]);
    if (stopId !== undefined) {
      if (request.method !== "POST") {
        return respond(
          stringifyJson({ ok: false, error: "Only POST may stop a loop" }),
          405,
          "application/json; charset=utf-8",
          { allow: "POST" },
        );
      }
      const refused = crossSite(request, host);
      if (refused !== undefined) return failure(403, refused);
      if (options.readOnly) {
        return failure(
          403,
          "Refusing to stop a loop as the server is read-only",
        );
      }
      return await stop(context, stopId, request);
    }
    if (request.method !== "GET") {
      return failure(405, "Only GET is allowed here");
    }
    if (path === "/api/info") {
      return json({
        readOnly: options.readOnly,
        location: context.registry.location,
      });
    }
    if (path === "/api/events") {
      return respond(hub.stream(), 200, "text/event-stream", {
        connection: "keep-alive",
      });
    }
    if (path === "/api/loops") {
      return json((await context.registry.list()).map(toJson));
    }
    const id = segment(path.match(LOOP_PATH)?.[1]);
    if (id !== undefined) {
      const loop = await context.registry.inspect(id);
      if (loop === undefined) return failure(404, "No such loop");
      // The entry's fields with the verdict; `status` is the list's word.
      const { liveness, reason, ...entry } = loop;
      const { status: _, ...fields } = toJson({ ...entry, status: "" });
      return json({ ...fields, liveness, reason });
    }
    return failure(404, "Not found");
  };
}

/**
 * Serves the dashboard until SIGINT or SIGTERM; prints its URL (with the
 * token) to stdout at start, and a warning to stderr when not on loopback.
 */
export async function serveDashboard(
  context: CommandContext,
  options: ServeOptions,
): Promise<void> {
  const listen = options.listen ?? "127.0.0.1";
  const { io } = context;
  if (!isLoopback(listen)) {
    io.err(
      `loops: warning: listening on ${listen}, beyond loopback: anyone who can reach it and has the token can see and stop loops; traffic is not encrypted`,
    );
  }
  const controller = new AbortController();
  const { signal } = controller;
  const onSignal = () => controller.abort();
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  const hub = new Hub();
  signal.addEventListener("abort", () => hub.close());
  let hosts = new Set<string>();
  const server = Deno.serve({
    hostname: listen.replace(/^\[|\]$/g, ""),
    port: options.port,
    signal,
    onListen({ port }) {
      hosts = allowedHosts(listen.replace(/^\[|\]$/g, ""), port);
      const shown = isWildcard(listen) ? "127.0.0.1" : hostPart(listen);
      io.out(
        `Serving ${context.registry.location} at http://${shown}:${port}/#token=${options.token}`,
      );
    },
    onError(error) {
      io.err(`loops: ${error instanceof Error ? error.message : error}`);
      return failure(500, "Internal error");
    },
  }, handler(context, hub, options, () => hosts));
  const fed = feed(context, hub, signal);
  try {
    await server.finished;
    await fed;
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
}
