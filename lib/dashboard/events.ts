/**
 * `GET /_pilcrow/events`: each open page's stream of snapshots (server-sent events, Hono's streamSSE, which runs on
 * every HTTP server lib/runtime picks, tested on each). A closed tab cancels its response body: the stream stops
 * listening at once. The streams open at once are bounded (each holds a connection and a listener); past the bound
 * the answer is 503. A page that stops reading is sent nothing more until it has taken what it was sent: a slow
 * reader never queues snapshots without bound.
 */
import type { Context } from "hono";
import { type SSEStreamingApi, streamSSE } from "hono/streaming";
import type { SnapshotTicker } from "./ticker.ts";

export const MAX_EVENT_STREAMS = 16;
/** How soon a page's EventSource tries again after the stream drops (the SSE `retry` field). */
const RETRY_MS = 1000;

export class EventStreams {
  readonly #ticker: SnapshotTicker;
  readonly #max: number;
  /** Each open stream, and what ends it. */
  readonly #open = new Map<SSEStreamingApi, () => void>();
  #closed = false;

  constructor(ticker: SnapshotTicker, max = MAX_EVENT_STREAMS) {
    this.#ticker = ticker;
    this.#max = max;
  }

  /** Streams open now. */
  get open(): number {
    return this.#open.size;
  }

  serve(c: Context, headers: Record<string, string>): Response {
    if (this.#closed || this.#open.size >= this.#max) {
      const why = this.#closed ? "the gateway is stopping" : `too many live pages open (${this.#max})`;
      return new Response(`${why}\n`, {
        status: 503,
        headers: { ...headers, "content-type": "text/plain; charset=utf-8", "retry-after": "5" },
      });
    }
    for (const [name, value] of Object.entries(headers)) c.header(name, value);
    const response = streamSSE(c, async (stream) => {
      let sending: Promise<void> | undefined;
      const stopListening = this.#ticker.listen((json) => {
        if (sending) return; // the page has not taken the last one yet: it gets the next that comes after
        sending = stream.writeSSE({ data: json, retry: RETRY_MS }).finally(() => sending = undefined);
      });
      try {
        await new Promise<void>((ended) => {
          this.#open.set(stream, ended);
          stream.onAbort(ended);
        });
      } finally {
        stopListening();
        this.#open.delete(stream);
      }
    });
    // A stream's connection is not kept for another request once the stream ends (streamSSE says keep-alive): a
    // server that is stopping (Node's) would otherwise wait out its idle timeout on it.
    response.headers.set("connection", "close");
    return response;
  }

  /** Ends every stream and refuses new ones: the gateway is stopping (its server waits for open answers). */
  close(): void {
    this.#closed = true;
    for (const end of this.#open.values()) end();
  }
}
