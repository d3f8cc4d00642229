// The event-stream clients of the dashboard-under-load measurement: many
// concurrent `GET /api/events` streams of one `loops serve`, over raw TCP
// (HTTP/1.1, one connection each), counting what arrives.
//
// Protocol, one line each way: prints "ready"; then
// - "open": opens the streams, waits until each has its first `loops`
//   event, prints "open";
// - "count": prints `{ events, bytes, streaming }` received since the last
//   "count" (or "open"): `loops` events and bytes over all streams, and how
//   many streams are still open;
// - "close": closes every stream, prints "closed".
// Exits when stdin closes.
//
// Usage: deno run -A bench/_serve_clients.ts <port> <token> <clients>
import { lineReader } from "../tests/_helpers/lines.ts";

const [port, token, count] = [
  Number(Deno.args[0]),
  Deno.args[1]!,
  Number(Deno.args[2]),
];
const encoder = new TextEncoder();
const EVENT = encoder.encode("event: loops\n");

async function send(line: string): Promise<void> {
  const writer = Deno.stdout.writable.getWriter();
  try {
    await writer.write(encoder.encode(`${line}\n`));
  } finally {
    writer.releaseLock();
  }
}

let events = 0;
let bytes = 0;

/** Occurrences of `EVENT` in `chunk`, given the previous chunk's tail. */
function countEvents(tail: Uint8Array, chunk: Uint8Array): number {
  const joined = new Uint8Array(tail.length + chunk.length);
  joined.set(tail);
  joined.set(chunk, tail.length);
  let found = 0;
  let i = joined.indexOf(EVENT[0]!);
  outer: while (i >= 0 && i + EVENT.length <= joined.length) {
    for (let j = 1; j < EVENT.length; j++) {
      if (joined[i + j] !== EVENT[j]) {
        i = joined.indexOf(EVENT[0]!, i + 1);
        continue outer;
      }
    }
    found++;
    i = joined.indexOf(EVENT[0]!, i + EVENT.length);
  }
  return found;
}

interface Stream {
  conn: Deno.TcpConn;
  first: Promise<void>;
  done: Promise<void>;
  open: boolean;
}

async function openStream(): Promise<Stream> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(encoder.encode(
    `GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${token}\r\nAccept: text/event-stream\r\n\r\n`,
  ));
  let resolveFirst!: () => void;
  let rejectFirst!: (error: Error) => void;
  const first = new Promise<void>((resolve, reject) => {
    resolveFirst = resolve;
    rejectFirst = reject;
  });
  const stream: Stream = { conn, first, done: Promise.resolve(), open: true };
  stream.done = (async () => {
    const buffer = new Uint8Array(64 * 1024);
    let tail = new Uint8Array(0);
    let head = "";
    let seen = false;
    try {
      for (;;) {
        const n = await conn.read(buffer);
        if (n === null) break;
        const chunk = buffer.subarray(0, n);
        if (head.length < 12) {
          head += new TextDecoder().decode(chunk.subarray(0, 12));
          if (head.length >= 12 && !head.startsWith("HTTP/1.1 200")) {
            throw new Error(`Cannot stream events: ${head}`);
          }
        }
        bytes += n;
        const found = countEvents(tail, chunk);
        events += found;
        if (found > 0 && !seen) {
          seen = true;
          resolveFirst();
        }
        tail = chunk.slice(Math.max(0, n - EVENT.length + 1));
      }
    } catch (error) {
      if (
        !(error instanceof Deno.errors.BadResource) &&
        !(error instanceof Deno.errors.Interrupted)
      ) {
        rejectFirst(error as Error);
      }
    } finally {
      stream.open = false;
      rejectFirst(new Error("Cannot stream events as the stream ended"));
    }
  })();
  return stream;
}

let streams: Stream[] = [];
const nextLine = lineReader(Deno.stdin.readable);
await send("ready");
for (let line = await nextLine(); line !== undefined; line = await nextLine()) {
  if (line === "open") {
    streams = await Promise.all(Array.from({ length: count }, openStream));
    await Promise.all(streams.map((s) => s.first));
    events = 0;
    bytes = 0;
    await send("open");
  } else if (line === "count") {
    const streaming = streams.filter((s) => s.open).length;
    await send(JSON.stringify({ events, bytes, streaming }));
    events = 0;
    bytes = 0;
  } else if (line === "close") {
    for (const s of streams) {
      try {
        s.conn.close();
      } catch (error) {
        if (!(error instanceof Deno.errors.BadResource)) throw error;
      }
    }
    await Promise.all(streams.map((s) => s.done));
    streams = [];
    await send("closed");
  } else {
    throw new Error(`Cannot understand command ${JSON.stringify(line)}`);
  }
}
