/**
 * Book-protocol instances through a distributor restart (issue 11, item 9; docs/protocol.md §3: routing never stops while
 * the distributor is away). A real Pilcrow distributor, gateway and goods, and a node written like the book's:
 * a plain node:net service, and a distributor client that registers on connect and, on a 3-second timer,
 * reconnects whenever its connection is down — so after a restart it is missing from the list for up to 3 s.
 */
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { registration } from "./support/book-peer.ts";
import { answer, type BookService, startBookService } from "./support/book-service.ts";
import { delay, eventually, type LogEntry, startProcess, stopAll } from "./support/processes.ts";
import { call, startSystem, type System } from "./support/system.ts";

/** The book's re-registration timer. */
const BOOK_TICK_MS = 3000;
/** The gateway's grace for unlisted instances after it connects to the distributor again (DEFAULT_RELIST_GRACE_MS). */
const GRACE_MS = 6000;

/** The distributor side of a book node, as the book's server.js writes it. */
class BookRegistration {
  connected = false;
  ticks = 0;
  #socket: Socket | undefined;
  #timer: ReturnType<typeof setInterval>;

  constructor(private readonly distributorPort: number, private readonly packet: unknown) {
    this.#connect();
    this.#timer = setInterval(() => {
      this.ticks++;
      if (!this.connected) this.#connect();
    }, BOOK_TICK_MS);
  }

  #connect(): void {
    const socket = connect({ port: this.distributorPort, host: "127.0.0.1" }, () => {
      this.connected = true;
      socket.write(JSON.stringify(this.packet) + "¶");
    });
    socket.resume(); // the lists: this node calls nobody, so it needs none of them
    socket.on("error", () => {});
    socket.on("close", () => this.connected = false);
    this.#socket = socket;
  }

  /** Stops for good, as a process that no longer talks to the distributor. */
  stop(): void {
    clearInterval(this.#timer);
    this.#socket?.destroy();
  }
}

/** Requests every few ms to each path until stopped; which gives every answer that was not 200. */
function steadyLoad(system: System, paths: string[]): { stop(): Promise<string[]>; count: number } {
  const failures: string[] = [];
  let running = true;
  const load = {
    count: 0,
    async stop() {
      running = false;
      await loop;
      return failures;
    },
  };
  const loop = (async () => {
    while (running) {
      for (const path of paths) {
        const { status } = await call(system, "GET", path);
        load.count++;
        if (status !== 200) failures.push(`${path} ${status} at ${new Date().toISOString()}`);
      }
      await delay(10);
    }
  })();
  return load;
}

const timeOf = (entry: LogEntry) => Date.parse((entry as LogEntry & { time: string }).time);

describe("book-protocol peers through a distributor restart", () => {
  let system: System;
  let service: BookService;
  let book: BookRegistration | undefined;

  before(async () => {
    system = await startSystem({ services: ["goods"] });
    service = await startBookService((packet, socket) => socket.write(answer(packet, { from: "book" })));
    await call(system, "POST", "/goods", { name: "a", category: "b", price: 1, description: "c" });
  });
  after(async () => {
    book?.stop();
    await service.close();
    // system.stop stops the distributor it started; the one started since is this test's to stop.
    await stopAll([system.distributor]);
    await system.stop();
  });

  /**
   * Kills the distributor just after the book's timer ticked, and starts it again on its port at once: the
   * gateway is back within its reconnect back-off, the book only at its next tick, 3 s after the last.
   */
  async function restartDistributor(): Promise<number> {
    const port = system.distributor.port;
    if (book) {
      const ticks = book.ticks;
      await eventually(() => book!.ticks > ticks || undefined, BOOK_TICK_MS + 2000, "the book's timer ticks");
    }
    system.distributor.signal("SIGKILL");
    await system.distributor.exited;
    const gateFrom = system.gate.entries.length;
    system.distributor = await startProcess("distributor.ts", [String(port)]);
    return gateFrom;
  }

  it("keeps every instance in routing, book-protocol and Pilcrow alike: 0 failed requests", async () => {
    book = new BookRegistration(system.distributor.port, registration("book", service.port, ["GET/book"]));
    await eventually(async () => (await call(system, "GET", "/book")).status === 200 || undefined, 10_000, "routed");
    const load = steadyLoad(system, ["/book", "/goods"]);
    await delay(300);
    await restartDistributor();
    // The book registers again on its next tick, 3 s after the restart; a little more, and the lists settle.
    await system.distributor.waitFor(
      (entry) => entry.event === "onRead" && JSON.stringify(entry.details).includes("\"book\""),
      BOOK_TICK_MS + 3000,
    );
    await delay(1000);
    const failures = await load.stop();
    console.log(`${load.count} requests through the restart, ${failures.length} failed`);
    assert.deepEqual(failures, []);
  });

  it("drops an instance that is still unlisted when the grace is over", async () => {
    await eventually(async () => (await call(system, "GET", "/book")).status === 200 || undefined, 10_000, "routed");
    book!.stop();
    book = undefined;
    const gateFrom = await restartDistributor();
    const notified = await system.gate.waitFor((entry) => entry.event === "distributor connected", 10_000, gateFrom);
    assert.equal((await call(system, "GET", "/book")).status, 200, "kept at first: it may be registering again");
    const removed = await system.gate.waitFor(
      (entry) => entry.event === "instance removed" && entry.details[0] === `127.0.0.1:${service.port}`,
      GRACE_MS + 5000,
      gateFrom,
    );
    const keptMs = timeOf(removed) - timeOf(notified);
    assert.ok(keptMs > GRACE_MS - 1000 && keptMs < GRACE_MS + 2000, `kept ${keptMs} ms after the gateway reconnected`);
    assert.equal((await call(system, "GET", "/book")).status, 503);
    assert.equal((await call(system, "GET", "/goods")).status, 200, "goods, registered again, is routed");
  });
});
