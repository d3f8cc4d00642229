// The event stream of `loops serve`: one watch of the registry feeds every
// client, so that many clients cost one registry read per change.

/** An event-stream client: its stream and its keep-alive timer. */
interface Client {
  controller: ReadableStreamDefaultController<Uint8Array>;
  ping?: ReturnType<typeof setInterval>;
}

/** The latest loops, pushed to every event-stream client. */
export class Hub {
  #latest: string | undefined;
  #clients = new Set<Client>();
  #encoder = new TextEncoder();

  publish(data: string): void {
    this.#latest = data;
    for (const client of this.#clients) this.#send(client, "loops", data);
  }

  #send(client: Client, event: string, data: string): void {
    try {
      client.controller.enqueue(
        this.#encoder.encode(`event: ${event}\ndata: ${data}\n\n`),
      );
    } catch {
      this.#drop(client);
    }
  }

  #drop(client: Client): void {
    clearInterval(client.ping);
    this.#clients.delete(client);
  }

  /** A new client's stream: the latest loops first, then each change. */
  stream(): ReadableStream<Uint8Array> {
    let client: Client;
    return new ReadableStream({
      start: (controller) => {
        client = { controller };
        this.#clients.add(client);
        controller.enqueue(this.#encoder.encode("retry: 1000\n\n"));
        if (this.#latest !== undefined) {
          this.#send(client, "loops", this.#latest);
        }
        client.ping = setInterval(
          () => this.#send(client, "ping", "{}"),
          15000,
        );
      },
      cancel: () => this.#drop(client),
    });
  }

  /** Ends every stream (at shutdown). */
  close(): void {
    for (const client of this.#clients) {
      this.#drop(client);
      try {
        client.controller.close();
      } catch {
        // Already closed by its reader.
      }
    }
  }
}
