/**
 * What a node sends, queued to go out together: at once when FLUSH_AT_CHARS are queued, else at the end of the
 * event-loop turn. The one policy for both meshes: a TCP connection's frames (lib/tcp/connection.ts) and a node's
 * requests over NATS (lib/mesh/nats/bus.ts). Published one by one, each request over NATS was a system call of
 * its own (a fifth of the gateway's CPU per request): nats.js writes what was published at the end of each
 * microtask checkpoint, which an HTTP server reaches after every request. Published together, they are one
 * write. (NATS answers need no queue: a service handles the requests of one read together, and nats.js writes
 * their answers together.)
 */
import { setImmediate } from "node:timers";

/**
 * Queued text above which the queue is written at once instead of at the end of the turn. Small, so that the
 * peer starts on the first packets of a busy turn while this side still makes the rest: written only at the
 * turn's end, the gateway's batch of requests and the service's batch of answers made the two take turns, each
 * idle while the other worked (2 cores, wrk -c50, GET /goods: Node 21k → 28k req/s, Deno 20k → 25k, Bun within
 * its noise; 1 KB wrote too often, 16 KB was close to 4 KB). It also keeps a peer that does not read from making
 * this side queue much before the write that blocks, and reads from it stop.
 */
export const FLUSH_AT_CHARS = 4 * 1024;

export class WriteQueue<T> {
  #items: T[] = [];
  #chars = 0;
  #scheduled = false;
  #write: (items: T[]) => boolean;

  /**
   * `write`: writes the items in order and returns true, or returns false having written none of them, to keep
   * them all queued (the socket is blocked, say).
   */
  constructor(write: (items: T[]) => boolean) {
    this.#write = write;
  }

  /** The characters queued (as given to `add`). */
  get chars(): number {
    return this.#chars;
  }

  /** Queues an item of `chars` characters: written by the end of this event-loop turn, or at once past the mark. */
  add(item: T, chars: number): void {
    this.#items.push(item);
    this.#chars += chars;
    if (this.#chars >= FLUSH_AT_CHARS) {
      this.flush();
    } else if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => {
        this.#scheduled = false;
        this.flush();
      });
    }
  }

  /** Writes what is queued now (unless `write` declines). */
  flush(): void {
    if (this.#items.length === 0) return;
    const items = this.#items;
    const chars = this.#chars;
    // Emptied first: `write` sees only what is queued besides what it writes (a blocked socket's overflow check).
    this.#items = [];
    this.#chars = 0;
    if (this.#write(items)) return;
    // Declined, so nothing was written, nor queued meanwhile: all of it stays, in order.
    this.#items = items;
    this.#chars = chars;
  }

  /** Drops what is queued (the connection is gone); a flush already scheduled then finds nothing. */
  clear(): void {
    this.#items = [];
    this.#chars = 0;
  }
}
