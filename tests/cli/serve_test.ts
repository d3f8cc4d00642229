// `loops serve` as a real process, reached with fetch (and a raw socket for
// a forged Host) on loopback: the event stream follows the registry, data
// is served as JSON and the page's script never parses it as markup, a stop
// needs the token, a same-origin POST and a good Host, --read-only refuses,
// and SIGTERM or SIGINT ends it cleanly. No assertion is on time: each waits
// for what must appear, with a bound against hangs.
import assert from "node:assert/strict";
import {
  assertClean,
  exists,
  Lines,
  loops,
  registerPid,
  sleeper,
  tempWorkspace,
  waitFor,
  writeEntries,
} from "../_helpers/cli.ts";
import { PAGE_JS } from "../../cli/_serve_script.ts";
import { serve, type Server } from "../_helpers/serve.ts";

/** Reads the event stream until `check` holds for the loops it sent. */
async function streamUntil(
  server: Server,
  check: (loops: { id: string; prompt: string }[]) => boolean,
  what: string,
  onFirst?: () => Promise<void>,
): Promise<void> {
  const response = await fetch(`${server.base}/api/events`, {
    headers: { authorization: `Bearer ${server.token}` },
    signal: AbortSignal.timeout(20000),
  });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "text/event-stream");
  const reader = response.body!.pipeThrough(new TextDecoderStream())
    .getReader();
  let buffer = "";
  let first = true;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      assert.ok(!done, `The stream ended before ${what}`);
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = event.match(/^event: loops\ndata: (.*)$/m)?.[1];
        if (data === undefined) continue;
        if (first) {
          first = false;
          await onFirst?.();
        }
        if (check(JSON.parse(data))) return;
      }
    }
  } finally {
    await reader.cancel();
  }
}

function ids(list: { id: string }[]): string[] {
  return list.map((loop) => loop.id);
}

Deno.test("serve streams a loop registered and drops one deregistered", async () => {
  await using ws = await tempWorkspace();
  await using loop = await sleeper();
  await using server = await serve(ws);
  await streamUntil(
    server,
    (list) => ids(list).includes("live"),
    "live",
    async () => {
      await registerPid(ws, loop.pid, "live");
    },
  );
  await streamUntil(
    server,
    (list) => !ids(list).includes("live"),
    "gone",
    async () => {
      await loops(["deregister", "live"], { ws: ws.path });
    },
  );
  const { code, stderr } = await server.end("SIGTERM");
  assert.equal(code, 0, stderr);
  assertClean({ stderr });
});

const XSS = "<img src=x onerror=alert(1)>";

Deno.test("serve gives a prompt holding HTML only as JSON data", async () => {
  await using ws = await tempWorkspace();
  await using loop = await sleeper();
  await registerPid(ws, loop.pid, "x", XSS);
  await using server = await serve(ws);
  const headers = { authorization: `Bearer ${server.token}` };
  const api = await fetch(`${server.base}/api/loops`, { headers });
  assert.equal(
    api.headers.get("content-type"),
    "application/json; charset=utf-8",
  );
  assert.equal(api.headers.get("x-content-type-options"), "nosniff");
  const list = await api.json();
  assert.deepEqual(list.map((l: { prompt: string }) => l.prompt), [XSS]);
  const detail = await (await fetch(`${server.base}/api/loops/x`, { headers }))
    .json();
  assert.equal(detail.prompt, XSS);
  assert.equal(detail.liveness, "alive");
  assert.equal(detail.status, undefined);
  assert.equal(typeof detail.reason, "string");
  // The page and its script hold no data, and the CSP forbids inline script.
  const page = await fetch(`${server.base}/`);
  assert.match(
    page.headers.get("content-security-policy")!,
    /script-src 'self';/,
  );
  const html = await page.text();
  assert.ok(!html.includes("onerror"), html);
  const js = await (await fetch(`${server.base}/app.js`)).text();
  assert.equal(js, PAGE_JS);
  for (
    const sink of [
      /innerHTML/,
      /outerHTML/,
      /insertAdjacentHTML/,
      /document\.write/,
      /\beval\(/,
      /new Function/,
      /srcdoc/,
    ]
  ) {
    assert.doesNotMatch(js, sink);
  }
  assert.match(js, /\.textContent = /);
  // Without the token, the API gives nothing.
  assert.equal((await fetch(`${server.base}/api/loops`)).status, 401);
  await (await fetch(`${server.base}/api/loops?token=wrong`)).body?.cancel();
});

/** A raw HTTP/1.1 request, to send a Host header fetch would not. */
async function rawStatus(server: Server, request: string): Promise<number> {
  const port = Number(new URL(server.base).port);
  using conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(new TextEncoder().encode(request));
  const lines = new Lines(conn.readable);
  const status = await lines.next() ?? "";
  return Number(status.split(" ")[1]);
}

Deno.test("serve stops a loop only with the token, a POST, its own Origin and Host", async (t) => {
  await using ws = await tempWorkspace();
  await using loop = await sleeper();
  await registerPid(ws, loop.pid, "s");
  await using server = await serve(ws);
  const url = `${server.base}/api/loops/s/stop`;
  const auth = `Bearer ${server.token}`;
  const refused = async (init: RequestInit, status: number) => {
    const response = await fetch(url, init);
    assert.equal(response.status, status, await response.text());
    assert.ok(exists(loop.pid) && !loop.exited(), "the loop was stopped");
  };
  await t.step("without the token", () => refused({ method: "POST" }, 401));
  await t.step(
    "with a wrong token",
    () =>
      refused({
        method: "POST",
        headers: { authorization: `Bearer ${"0".repeat(64)}` },
      }, 401),
  );
  await t.step("with the token in the query", async () => {
    const r = await fetch(`${url}?token=${server.token}`, { method: "POST" });
    assert.equal(r.status, 401);
    await r.body?.cancel();
    assert.ok(exists(loop.pid) && !loop.exited());
  });
  await t.step(
    "from a foreign Origin",
    () =>
      refused({
        method: "POST",
        headers: { authorization: auth, origin: "http://evil.example" },
      }, 403),
  );
  await t.step(
    "as a cross-site request",
    () =>
      refused({
        method: "POST",
        headers: { authorization: auth, "sec-fetch-site": "cross-site" },
      }, 403),
  );
  await t.step(
    "as a GET",
    () => refused({ headers: { authorization: auth } }, 405),
  );
  await t.step("for a rebound host name", async () => {
    const port = new URL(server.base).port;
    const status = await rawStatus(
      server,
      `POST /api/loops/s/stop HTTP/1.1\r\nHost: evil.example:${port}\r\nAuthorization: ${auth}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
    );
    assert.equal(status, 421);
    assert.ok(exists(loop.pid) && !loop.exited());
  });
  await t.step("with the token from its own origin, it stops", async () => {
    const response = await fetch(url, {
      method: "POST",
      headers: {
        authorization: auth,
        origin: server.base,
        "content-type": "application/json",
      },
      body: "{}",
    });
    const result = await response.json();
    assert.equal(response.status, 200, JSON.stringify(result));
    assert.equal(result.ok, true);
    assert.match(result.messages.join("\n"), /Stopped loop "s"/);
    await waitFor(() => loop.exited(), "the loop to exit");
    const list = await (await fetch(`${server.base}/api/loops`, {
      headers: { authorization: auth },
    })).json();
    assert.deepEqual(list, []);
  });
  await t.step("a missing loop is a 404", async () => {
    const response = await fetch(url, {
      method: "POST",
      headers: { authorization: auth },
    });
    assert.equal(response.status, 404);
    await response.body?.cancel();
  });
  await t.step("a malformed id is a 404 and a huge body a 413", async () => {
    const bad = await fetch(`${server.base}/api/loops/%E0%A4%A/stop`, {
      method: "POST",
      headers: { authorization: auth },
    });
    assert.equal(bad.status, 404);
    await bad.body?.cancel();
    const huge = await fetch(url, {
      method: "POST",
      headers: { authorization: auth },
      body: "x".repeat(5000),
    });
    assert.equal(huge.status, 413);
    await huge.body?.cancel();
  });
});

Deno.test("serve gives loops stop's refusals as messages", async () => {
  await using ws = await tempWorkspace();
  await using loop = await sleeper();
  // Its pid means another process here: this host's sleeper.
  await writeEntries(ws, [{ id: "remote", pid: loop.pid, host_id: "other" }]);
  await using server = await serve(ws);
  const response = await fetch(`${server.base}/api/loops/remote/stop`, {
    method: "POST",
    headers: { authorization: `Bearer ${server.token}` },
  });
  const result = await response.json();
  assert.equal(response.status, 409, JSON.stringify(result));
  assert.match(
    result.error,
    /^Refusing to signal loop "remote" as it runs on another host/,
  );
  assert.equal(result.exitCode, 9);
  assert.ok(exists(loop.pid) && !loop.exited());
});

Deno.test("serve --read-only refuses to stop and says so", async () => {
  await using ws = await tempWorkspace();
  await using loop = await sleeper();
  await registerPid(ws, loop.pid, "r");
  await using server = await serve(ws, [
    "--read-only",
    "--token",
    "a-token-of-twenty-chars",
  ]);
  assert.equal(server.token, "a-token-of-twenty-chars");
  const response = await fetch(`${server.base}/api/loops/r/stop`, {
    method: "POST",
    headers: { "x-loops-token": server.token },
  });
  assert.equal(response.status, 403);
  assert.match((await response.json()).error, /read-only/);
  assert.ok(exists(loop.pid) && !loop.exited());
  const info = await (await fetch(`${server.base}/api/info`, {
    headers: { "x-loops-token": server.token },
  })).json();
  assert.equal(info.readOnly, true);
});

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.test(`serve exits 0 on ${signal}, with an event stream open`, async () => {
    await using ws = await tempWorkspace();
    await using server = await serve(ws);
    const events = await fetch(
      `${server.base}/api/events?token=${server.token}`,
    );
    assert.equal(events.status, 200);
    const { code, stderr } = await server.end(signal);
    assert.equal(code, 0, stderr);
    assertClean({ stderr });
    await events.body?.cancel().catch(() => {});
  });
}

Deno.test("serve warns when it listens beyond loopback, and checks its options", async () => {
  await using ws = await tempWorkspace();
  await using server = await serve(ws, ["--listen", "0.0.0.0"]);
  const { code, stderr } = await server.end("SIGTERM");
  assert.equal(code, 0);
  assert.match(stderr, /warning: listening on 0\.0\.0\.0, beyond loopback/);
  const bad = await loops(["serve", "--port", "70000"], { ws: ws.path });
  assert.equal(bad.code, 2);
  const short = await loops(["serve", "--token", "short"], { ws: ws.path });
  assert.equal(short.code, 2);
});
