/**
 * The gateway's HTTP face (issue 11 item 8 and the 503s of item 5): HEAD is the GET without a body, every 503
 * says when to retry, a service's busy refusal becomes 503 + Retry-After after the other instances were tried,
 * and each packet carries the gateway's deadline. Real processes; services written the book's way play the
 * instances whose answers the test chooses.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { Agent, type IncomingHttpHeaders, request as httpRequestOf } from "node:http";
import { after, before, describe, it } from "node:test";
import { BookPeer, registration } from "./support/book-peer.ts";
import { answer, type BookService, startBookService } from "./support/book-service.ts";
import { exchange } from "./support/hostile-peers.ts";
import { delay } from "./support/processes.ts";
import { call, startSystem, type System, waitForInstances } from "./support/system.ts";

const TIMEOUT_MS = 3000;

describe("gateway HTTP", () => {
  let system: System;
  const services: BookService[] = [];
  const nodes: BookPeer[] = [];
  before(async () => {
    system = await startSystem({ services: ["goods"], gateArgs: ["--timeout", String(TIMEOUT_MS)] });
  });
  after(async () => {
    for (const node of nodes) node.close();
    for (const service of services) await service.close();
    await system?.stop();
  });

  /** A book-style instance of `name` serving `urls`, registered with the distributor, routed by the gateway. */
  async function bookInstance(name: string, urls: string[], respond: Parameters<typeof startBookService>[0]) {
    const service = await startBookService(respond);
    services.push(service);
    const node = await BookPeer.connect(system.distributor.port);
    nodes.push(node);
    const from = system.gate.entries.length;
    node.send(registration(name, service.port, urls));
    await waitForInstances(system, 1, from);
    return { service, node };
  }

  it("answers HEAD /goods as the GET without its body", async () => {
    await call(system, "POST", "/goods", { name: "n", category: "c", price: 1, description: "d" });
    const get = await fetch(`${system.url}/goods`);
    const getBody = await get.json();
    assert.equal(getBody.errorcode, 0);
    const head = await fetch(`${system.url}/goods`, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("content-type"), get.headers.get("content-type"));
    assert.equal((await head.arrayBuffer()).byteLength, 0);
    // On the wire too: a status line and headers, and not one byte after them.
    const raw = await exchange(system.gate.port, ["HEAD /goods HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"]);
    const text = raw.received.toString("latin1");
    assert.ok(raw.closedByServer, text);
    assert.match(text, /^HTTP\/1\.1 200 /);
    assert.equal(text.indexOf("\r\n\r\n") + 4, text.length, text);
    const missing = await fetch(`${system.url}/nothing-here`, { method: "HEAD" });
    assert.equal(missing.status, 404);
  });

  it("closes the connection of a request whose body it refused, so that no later request on it is cut", async () => {
    await bookInstance("slow", ["GET/slow"], (packet, socket) => {
      setTimeout(() => socket.write(answer(packet)), 900);
    });
    // One keep-alive connection at most: a request after the refusal goes on the refused one unless it was closed.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const refused = await httpRequest(agent, "POST", "/goods", Buffer.alloc(200_000, 0x20));
      assert.equal(refused.status, 413);
      assert.equal(refused.headers.connection, "close");
      const slow = await httpRequest(agent, "GET", "/slow");
      assert.equal(slow.status, 200, slow.body);
      assert.equal(JSON.parse(slow.body).errorcode, 0, slow.body);
    } finally {
      agent.destroy();
    }
  });

  it("never passes on a book service's answer cut at a ¶ it did not escape, even where the cut ends in }", async () => {
    // The book's services write JSON.stringify(answer) + "¶": a ¶ in a stored string splits their frame.
    await bookInstance("cut", ["GET/cut"], (packet, socket) => {
      socket.write(`{"key":${packet.params.key},"errorcode":0,"results":[{"description":"a}¶b"}]}¶`);
    });
    const cut = await call(system, "GET", "/cut");
    assert.notEqual(cut.status, 200, JSON.stringify(cut.body));
    assert.equal(cut.status, 504, JSON.stringify(cut.body));
  });

  /** A request over `agent` (keep-alive connections, as browsers and proxies keep them). */
  function httpRequest(agent: Agent, method: string, path: string, body?: Buffer) {
    return new Promise<{ status: number; headers: IncomingHttpHeaders; body: string }>((resolve, reject) => {
      const request = httpRequestOf(`${system.url}${path}`, { method, agent }, (response) => {
        let text = "";
        response.setEncoding("utf8").on("data", (chunk) => text += chunk);
        response.on("end", () => resolve({ status: response.statusCode!, headers: response.headers, body: text }));
      });
      // A refused body may be cut off while it is being written: the answer still comes.
      request.on("error", reject);
      request.end(body);
    });
  }

  it("sends its deadline with each packet, and keeps the key in params for book services", async () => {
    const { service } = await bookInstance("deadline", ["GET/deadline"], (packet, socket) => {
      socket.write(answer(packet));
    });
    const response = await call(system, "GET", "/deadline?x=1");
    assert.equal(response.status, 200);
    const [packet] = service.received;
    // The ms left when it was sent: the whole timeout, but for the odd millisecond the clock turned meanwhile.
    assert.ok(packet.timeout <= TIMEOUT_MS && packet.timeout >= TIMEOUT_MS - 50, JSON.stringify(packet));
    assert.deepEqual(packet.params, { x: "1", key: response.body.key });
  });

  it("tries a busy refusal on another instance, and answers 503 with Retry-After when all are busy", async () => {
    const busy = (packet: { params: { key: number } }) =>
      JSON.stringify({
        key: packet.params.key,
        errorcode: 1,
        errormessage: "service busy: test; retry later",
        retryAfter: 2,
      }) + "¶";
    const refusing = await bookInstance("busy", ["POST/busy", "GET/busy"], (packet, socket) => {
      socket.write(busy(packet));
    });
    const refused = await call(system, "POST", "/busy", { n: 1 });
    assert.equal(refused.status, 503);
    assert.deepEqual(refused.body, {
      key: refused.body.key,
      errorcode: 1,
      errormessage: "service busy: test; retry later",
      retryAfter: 2,
    });
    const raw = await fetch(`${system.url}/busy`);
    assert.equal(raw.status, 503);
    assert.equal(raw.headers.get("retry-after"), "2");
    await raw.arrayBuffer();

    // A second instance that takes the work: since a refusal did nothing, even a POST goes on to it.
    const taking = await bookInstance("busy", ["POST/busy", "GET/busy"], (packet, socket) => {
      socket.write(answer(packet, { took: true }));
    });
    for (let i = 0; i < 4; i++) {
      const response = await call(system, "POST", "/busy", { n: i });
      assert.deepEqual([response.status, response.body.took], [200, true], JSON.stringify(response.body));
    }
    assert.ok(refusing.service.received.length >= 3, "the refusing instance had its turns");
    assert.equal(taking.service.received.length, 4, "each POST was done once");
  });

  it("answers 502 at once for an answer too large to pass on, and the other requests on that connection succeed", async () => {
    await bookInstance("huge", ["GET/huge", "GET/small"], (packet, socket) => {
      if (packet.uri === "/small") return setTimeout(() => socket.write(answer(packet, { small: true })), 200);
      socket.write(answer(packet, { blob: "x".repeat(1024 * 1024 + 100) }));
    });
    const from = system.gate.entries.length;
    const started = Date.now();
    const [small, huge] = await Promise.all([call(system, "GET", "/small"), call(system, "GET", "/huge")]);
    assert.equal(huge.status, 502, JSON.stringify(huge.body).slice(0, 200));
    assert.equal(huge.body.errorcode, 1);
    assert.match(huge.body.errormessage, /too large/);
    assert.deepEqual([small.status, small.body.small], [200, true], "the request in flight beside it is answered");
    assert.ok(Date.now() - started < TIMEOUT_MS - 1000, "not after the timeout");
    assert.equal((await call(system, "GET", "/small")).body.small, true);
    const lost = system.gate.entries.slice(from).filter((entry) => entry.event === "instance connection lost");
    assert.deepEqual(lost, [], "the connection to the instance never broke");
  });

  it("answers 503 with Retry-After when no instance of a known route is live", async () => {
    const { service, node } = await bookInstance("gone", ["GET/gone"], (packet, socket) => {
      socket.write(answer(packet));
    });
    assert.equal((await call(system, "GET", "/gone")).status, 200);
    service.crash();
    node.close();
    let response: Response | undefined;
    for (let i = 0; i < 100; i++) {
      response = await fetch(`${system.url}/gone`);
      if (response.status === 503) break;
      await response.arrayBuffer();
      await delay(50);
    }
    assert.equal(response?.status, 503);
    assert.equal(response?.headers.get("retry-after"), "1");
    const body = await response!.json();
    assert.equal(body.errorcode, 1);
    assert.match(body.errormessage, /no live instance/);
  });
});
