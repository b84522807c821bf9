/**
 * Services calling services (issue 12 item 2) through the mesh core, as real processes: across runtimes
 * (purchases on Bun calling goods on Deno), failed over when the called instance dies mid-call, with the
 * request's deadline passed on (a call with 10 ms left fails fast and its callee never runs it late; one with
 * no time left is never sent), and to a service written for the book's protocol.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type AnyPacket, BookPeer, registration } from "./support/book-peer.ts";
import { answer, type BookService, startBookService } from "./support/book-service.ts";
import { delay, type RunningProcess, startProcess, stopAll } from "./support/processes.ts";
import { call, type Json, startSystem, type System } from "./support/system.ts";

/** Waits until `caller` has connected to the instance listening on `port`. */
function connectedTo(caller: RunningProcess, port: number, from = 0) {
  return caller.waitFor(
    (entry) => entry.event === "instance connected" && String(entry.details[0]).endsWith(`:${port}`),
    15_000,
    from,
  );
}

describe("calls across runtimes", () => {
  let processes: RunningProcess[] = [];
  after(() => stopAll(processes));

  it("purchases on Bun gets its history's goods from goods on Deno", async () => {
    const distributor = await startProcess("distributor.ts", ["0"]);
    const mesh = ["--distributor", `127.0.0.1:${distributor.port}`];
    processes = [distributor];
    const [gate, goods, purchases] = await Promise.all([
      startProcess("gate.ts", ["0", ...mesh]),
      startProcess("goods.ts", ["0", ...mesh], { runtime: "deno" }),
      startProcess("purchases.ts", ["0", ...mesh], { runtime: "bun" }),
    ]);
    processes.push(gate, goods, purchases);
    await connectedTo(purchases, goods.port);
    await gate.waitFor(() => gate.entries.filter((entry) => entry.event === "instance connected").length >= 2);
    const system = { url: `http://127.0.0.1:${gate.port}` } as System;

    await call(system, "POST", "/goods", { name: "찻잔 ¶", category: "cups", price: 3000, description: "d" });
    await call(system, "POST", "/purchases", { userid: 9, goodsid: 1 });
    const history = await call(system, "GET", "/purchases/history?userid=9");
    assert.equal(history.body.errorcode, 0, JSON.stringify(history.body));
    assert.deepEqual(history.body.results.map((row: Json) => row.goods), [
      { name: "찻잔 ¶", category: "cups", price: 3000 },
    ]);
  });
});

describe("a call failed over", () => {
  let system: System;
  before(async () => {
    system = await startSystem({ services: ["goods", "purchases"] });
  });
  after(() => system?.stop());

  it("sends a GET again to the other goods when the instance it waits on is killed mid-call", async () => {
    const purchases = system.services.get("purchases")!;
    const first = system.services.get("goods")!;
    const second = await system.startService("goods");
    await connectedTo(purchases, first.port);
    await connectedTo(purchases, second.port);
    await call(system, "POST", "/purchases", { userid: 31, goodsid: 1 });

    const from = purchases.entries.length;
    // Frozen, the instance takes the calls round robin gives it and answers none; killed, its connections drop.
    first.signal("SIGSTOP");
    const started = Date.now();
    const histories = Promise.all(
      Array.from({ length: 6 }, () => call(system, "GET", "/purchases/history?userid=31")),
    );
    await delay(500);
    first.signal("SIGKILL");
    const answers = await histories;
    for (const history of answers) {
      assert.deepEqual([history.status, history.body.errorcode], [200, 0], JSON.stringify(history.body));
      assert.deepEqual(history.body.results.map((row: Json) => row.goods), [null], "the other goods has none");
    }
    const lost = purchases.entries.slice(from).filter((entry) =>
      entry.event === "connection lost" && entry.details[0] === "GET/goods/lookup"
    );
    assert.ok(lost.length >= 1, "some calls were in flight on the killed instance");
    assert.ok(Date.now() - started < 4000, `answered after ${Date.now() - started} ms, not at a timeout`);
  });
});

describe("deadlines passed on, and a book-protocol service called", () => {
  let distributor: RunningProcess;
  let nap: RunningProcess;
  let relay: RunningProcess;
  let client: BookPeer;
  let bookService: BookService | undefined;
  let bookNode: BookPeer | undefined;
  let nextKey = 1;

  /** Asks relay (as a book-protocol client, which may wait past the deadline it sends) and waits for its answer. */
  async function ask(route: string, params: Record<string, unknown>, timeout?: number): Promise<Json> {
    const key = nextKey++;
    const slash = route.indexOf("/");
    client.send({
      uri: route.slice(slash),
      method: route.slice(0, slash),
      params: { ...params, key },
      ...(timeout === undefined ? {} : { timeout }),
    });
    return await client.waitFor((packet: AnyPacket) => packet.key === key);
  }

  async function napRecord(): Promise<{ left: (number | null)[]; begun: number[] }> {
    const peer = await BookPeer.connect(nap.port);
    try {
      peer.send({ uri: "/nap/record", method: "GET", params: { key: 1 } });
      return await peer.waitFor((packet: AnyPacket) => packet.key === 1);
    } finally {
      peer.close();
    }
  }

  before(async () => {
    distributor = await startProcess("distributor.ts", ["0"]);
    const mesh = ["--distributor", `127.0.0.1:${distributor.port}`];
    nap = await startProcess("tests/support/nap-service.ts", ["0", ...mesh]);
    relay = await startProcess("tests/support/relay-service.ts", ["0", ...mesh]);
    await connectedTo(relay, nap.port);
    client = await BookPeer.connect(relay.port);
  });
  after(async () => {
    client?.close();
    bookNode?.close();
    await bookService?.close();
    await stopAll([relay, nap, distributor]);
  });

  it("a call inherits what is left of the request's deadline", async () => {
    const relayed = await ask("GET/relay/nap", { ms: 1, waitMs: 0 }, 2000);
    assert.equal(relayed.call.errorcode, 0, JSON.stringify(relayed));
    const { left } = await napRecord();
    assert.equal(left.length, 1);
    assert.ok(left[0]! > 1000 && left[0]! <= 2000, `nap was left ${left[0]} ms of the request's 2000`);
    const unbounded = await ask("GET/relay/nap", { ms: 1, waitMs: 0 });
    assert.equal(unbounded.call.errorcode, 0);
    const [, defaultLeft] = (await napRecord()).left;
    assert.ok(defaultLeft! > 4000 && defaultLeft! <= 5000, `without a deadline a call gets 5000 ms: ${defaultLeft}`);
  });

  it("a call made with 10 ms left fails fast with a timeout, and the callee never runs it late", async () => {
    // nap is busy for 400 ms: the call with 10 ms left waits its turn there, and that turn comes too late.
    const busy = ask("GET/relay/nap", { ms: 400, waitMs: 0 });
    await delay(50);
    const late = await ask("GET/relay/nap", { ms: 1, waitMs: 40 }, 50);
    assert.equal(late.errorcode, 0, "relay answers: it is its call that failed");
    assert.equal(late.call.errorcode, 1);
    assert.match(
      late.call.errormessage,
      /^nap could not be reached: the service did not answer GET \/nap within \d ms$/,
    );
    assert.ok(late.call.tookMs < 300, `the call failed after ${late.call.tookMs} ms`);
    assert.equal((await busy).call.errorcode, 0);
    await delay(100);
    const { left, begun } = await napRecord();
    assert.ok(left.at(-1)! <= 10, `nap was left ${left.at(-1)} ms`);
    assert.deepEqual(begun.slice(-2), [1, 400], "the late nap was dropped when its turn came, never begun");
  });

  it("a call whose deadline has passed fails at once, and is never sent", async () => {
    const before = (await napRecord()).left.length;
    const late = await ask("GET/relay/nap", { ms: 1, waitMs: 60 }, 30);
    assert.equal(late.call.errorcode, 1);
    assert.match(late.call.errormessage, /^nap could not be reached: no time was left to send GET \/nap$/);
    assert.ok(late.call.tookMs < 50, `took ${late.call.tookMs} ms`);
    assert.equal((await napRecord()).left.length, before, "nap received nothing");
  });

  it("calls a service written for the book's protocol, which answers book packets", async () => {
    bookService = await startBookService((packet, socket) =>
      socket.write(answer(packet, { echo: packet.params.text }))
    );
    bookNode = await BookPeer.connect(distributor.port);
    const from = relay.entries.length;
    bookNode.send(registration("book", bookService.port, ["GET/book"]));
    await connectedTo(relay, bookService.port, from);

    // No `¶` in the text: a book peer writes it unescaped, which would split its frame.
    const relayed = await ask("GET/relay/book", { text: "책 book" });
    assert.deepEqual(relayed.call, { errorcode: 0, errormessage: "success", tookMs: relayed.call.tookMs });
    assert.equal(relayed.echo, "책 book");
    const [received] = bookService.received;
    assert.equal(received.uri, "/book");
    assert.equal(received.method, "GET");
    assert.equal(received.params.text, "책 book");
    assert.equal(typeof received.params.key, "number", "the key where book services read it");

    bookService.crash();
    await delay(100);
    const away = await ask("GET/relay/book", { text: "x" });
    assert.match(away.call.errormessage, /^book could not be reached: /);
  });
});
