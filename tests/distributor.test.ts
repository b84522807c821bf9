/** The Distributor as a black box: a real process, real TCP, peers written in the book's style and Pilcrow's. */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createLogger } from "../lib/log.ts";
import { linkToRegistry, type RegistryLink } from "../lib/mesh/registry-link.ts";
import type { NodeInfo } from "../lib/wire/packet.ts";
import { BookPeer, isListOf, registration } from "./support/book-peer.ts";
import { startBookService } from "./support/book-service.ts";
import { delay, eventually, type RunningProcess, startProcess, stopAll } from "./support/processes.ts";

const quiet = createLogger({ name: "test", level: "error" });

describe("distributor", () => {
  let distributor: RunningProcess;
  const peers: BookPeer[] = [];
  const peer = async () => {
    const connected = await BookPeer.connect(distributor.port);
    peers.push(connected);
    return connected;
  };

  before(async () => {
    distributor = await startProcess("distributor.ts", ["0"]);
  });
  after(async () => {
    for (const connected of peers) connected.close();
    await stopAll([distributor]);
  });

  it("sends the current list to a new connection at once", async () => {
    const watcher = await peer();
    const first = await watcher.waitFor((packet) => packet.uri === "/distributes");
    assert.deepEqual(first, { uri: "/distributes", method: "GET", key: 0, params: [] });
    watcher.close();
  });

  it("sends the whole list, in registration order, to every registered node; removes a node on disconnect", async () => {
    const gate = await peer();
    gate.send(registration("gate", 8000));
    await gate.waitFor(isListOf("gate"));
    const goods = await peer();
    goods.send(registration("goods", 9010, ["POST/goods", "GET/goods", "DELETE/goods"]));
    const seenByGate = await gate.waitFor(isListOf("gate", "goods"));
    const seenByGoods = await goods.waitFor(isListOf("gate", "goods"));
    assert.deepEqual(seenByGate, seenByGoods);
    assert.deepEqual(seenByGate.params[1], {
      port: 9010,
      name: "goods",
      urls: ["POST/goods", "GET/goods", "DELETE/goods"],
      host: "127.0.0.1",
    });

    const received = gate.packets.length;
    goods.close();
    await gate.waitFor(isListOf("gate"), 5000, received);
    gate.close();
  });

  it("honours params.host, and keeps its place when a node registers again on the same connection", async () => {
    const a = await peer();
    a.send(registration("a", 9101, [], "10.1.2.3"));
    await a.waitFor(isListOf("a"));
    const b = await peer();
    b.send(registration("b", 9102));
    await a.waitFor(isListOf("a", "b"));
    const from = a.packets.length;
    a.send(registration("a", 9101, ["GET/a"], "10.1.2.3"));
    const list = await a.waitFor(
      (packet) => isListOf("a", "b")(packet) && packet.params[0].urls.length === 1,
      5000,
      from,
    );
    assert.equal(list.params[0].host, "10.1.2.3");
    a.close();
    b.close();
  });

  it("keeps a listed book node against a claim on its address; lists the claimant once that node's connection closes", async () => {
    const service = await startBookService(() => {});
    try {
      const holder = await peer();
      holder.send(registration("twin", service.port, ["GET/twin"]));
      await holder.waitFor(isListOf("twin"));
      const claimant = await peer();
      claimant.send(registration("twin", service.port, ["GET/claimed"]));
      await distributor.waitForEvent("claims a listed address; waiting for its holder to go");
      await delay(500);
      assert.ok(!holder.isClosed, "a book node's connection, which cannot be pinged, is kept while it is open");
      assert.equal(holder.packets.filter((packet) => isListOf("twin")(packet)).length, 1, "nothing changed");
      holder.close();
      await claimant.waitFor((packet) => isListOf("twin")(packet) && packet.params[0].urls[0] === "GET/claimed");
      assert.deepEqual(claimant.packets.filter(isListOf("twin", "twin")), [], "never listed twice");
    } finally {
      for (const connected of peers) connected.close();
      await service.close();
    }
  });

  it("replaces a Pilcrow registration whose connection outlived its node: no answer to a ping within a heartbeat", async () => {
    const stale = await peer();
    stale.send({ ...registration("twin", 9401), params: { port: 9401, name: "twin", urls: [], pilcrow: 1 } });
    await stale.waitFor(isListOf("twin"));
    const fresh = await peer();
    fresh.send(registration("twin", 9401, ["GET/fresh"]));
    const claimedAt = Date.now();
    await stale.closed;
    const replacedAfter = Date.now() - claimedAt;
    assert.ok(replacedAfter < 2000 + 1500, `replaced after ${replacedAfter} ms (heartbeat 2000 ms)`);
    await fresh.waitFor((packet) => isListOf("twin")(packet) && packet.params[0].urls[0] === "GET/fresh");
    assert.deepEqual(fresh.packets.filter(isListOf("twin", "twin")), [], "never listed twice");
    fresh.close();
  });

  it("survives garbage, half packets, wrong shapes and oversized frames without disturbing other nodes", async () => {
    const good = await peer();
    good.send(registration("good", 9201));
    await good.waitFor(isListOf("good"));

    const junk = await peer();
    junk.writeRaw(new Uint8Array([0xff, 0xfe, 0x00, 0xc2, 0xb6]));
    junk.writeRaw("not json¶[1,2,3]¶42¶null¶¶");
    junk.send({ uri: "/distributes", method: "POST", key: 0, params: { port: "nope", name: 7 } });
    junk.send({ uri: "/elsewhere", method: "GET" });
    junk.writeRaw("{\"uri\":\"/distributes\",\"method\":\"POST\",\"params\":{\"port\":92");
    await distributor.waitFor((entry) => entry.event === "invalid registration from");
    junk.close();

    // A frame over the 1 MiB limit is skipped to its ¶; what follows on that connection is read.
    const huge = await peer();
    huge.writeRaw("x".repeat(1024 * 1024 + 100) + "¶");
    huge.send(registration("late", 9202));
    await good.waitFor(isListOf("good", "late"));
    for (const event of ["bad frame from", "invalid registration from", "ignored packet from"]) {
      assert.ok(distributor.entries.some((entry) => entry.event === event), `${event} logged`);
    }
    assert.ok(distributor.running, "distributor still running");
    good.close();
    huge.close();
  });
});

describe("distributor restart", () => {
  it("nodes register again within about 3 s after the distributor comes back", async () => {
    let distributor = await startProcess("distributor.ts", ["0"]);
    const port = distributor.port;
    const lists: NodeInfo[][] = [];
    const members: RegistryLink[] = ["alpha", "beta"].map((name, index) =>
      linkToRegistry({
        distributor: { hostname: "127.0.0.1", port },
        self: { name, port: 9300 + index, urls: [`GET/${name}`] },
        log: quiet,
        notified: (nodes) => lists.push(nodes),
      })
    );
    try {
      const names = () => lists.at(-1)?.map((node) => node.name).sort().join(",");
      await eventually(() => names() === "alpha,beta" || undefined, 5000, "both registered");
      await distributor.stop();
      await eventually(() => members.every((member) => !member.registered) || undefined, 5000, "nodes see it gone");
      lists.length = 0;
      distributor = await startProcess("distributor.ts", [String(port)]);
      const back = Date.now();
      await eventually(() => names() === "alpha,beta" || undefined, 5000, "both registered again");
      assert.ok(Date.now() - back < 3500, `registered again after ${Date.now() - back} ms`);
    } finally {
      for (const member of members) member.close();
      await stopAll([distributor]);
    }
  });
});
