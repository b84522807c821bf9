/**
 * GET /purchases/history (issue 12 item 5): each purchase with its goods as goods knows it now, asked over the
 * mesh — purchases keeps no goods, so on the embedded store only a call can get them — or `null` for goods
 * that no longer exist. Goods frozen (SIGSTOP), down, or too slow: errorcode 1 saying goods could not be
 * reached, before the gateway's deadline (never a hang, a 504 or a 500). On the embedded store and on MySQL.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type AnyPacket, BookPeer, registration } from "./support/book-peer.ts";
import { type BookService, startBookService } from "./support/book-service.ts";
import { createTestDatabase, skipWithoutMysql, type TestDatabase } from "./support/mysql.ts";
import { call, type Json, startSystem, type System } from "./support/system.ts";

/** The gateway's timeout: purchases must answer within it even when goods never does. */
const GATE_TIMEOUT_MS = 3000;
const DATE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/;

async function timed(system: System, path: string): Promise<{ status: number; body: Json; ms: number }> {
  const started = Date.now();
  const answer = await call(system, "GET", path);
  return { ...answer, ms: Date.now() - started };
}

function assertGoodsUnreachable(answer: { status: number; body: Json; ms: number }, what: string): void {
  assert.equal(answer.status, 200, `${what}: ${JSON.stringify(answer.body)}`);
  assert.equal(answer.body.errorcode, 1, `${what}: ${JSON.stringify(answer.body)}`);
  assert.match(answer.body.errormessage, /^goods could not be reached: /, what);
  assert.equal(typeof answer.body.key, "number");
  assert.equal(answer.body.results, undefined);
  assert.ok(answer.ms < GATE_TIMEOUT_MS, `${what}: answered after ${answer.ms} ms`);
}

function historySuite(label: string, skip: string | false, databaseUrl: () => Promise<TestDatabase | undefined>) {
  describe(`purchase history: ${label}`, { skip }, () => {
    let system: System;
    let database: TestDatabase | undefined;
    let slowGoods: BookService | undefined;
    let slowGoodsNode: BookPeer | undefined;
    before(async () => {
      database = await databaseUrl();
      system = await startSystem({
        services: ["goods", "purchases"],
        env: database ? { MYSQL_URL: database.url } : {},
        gateArgs: ["--timeout", String(GATE_TIMEOUT_MS)],
      });
    });
    after(async () => {
      system?.services.get("goods")?.signal("SIGCONT");
      slowGoodsNode?.close();
      await slowGoods?.close();
      await system?.stop();
      await database?.drop();
    });

    it("answers each purchase with its goods from goods, null for goods gone, in purchase order", async () => {
      const ids: number[] = [];
      for (const [name, price] of [["pen", 1200], ["gone", 5], ["ink", 800]] as const) {
        await call(system, "POST", "/goods", { name, category: "stationery", price, description: `${name}!` });
        const listed = await call(system, "GET", "/goods");
        ids.push(listed.body.results.at(-1).id);
      }
      const [pen, gone, ink] = ids;
      assert.equal((await call(system, "DELETE", `/goods?id=${gone}`)).body.errorcode, 0);
      for (const goodsid of [ink, gone, pen, 987654, ink]) {
        assert.equal((await call(system, "POST", "/purchases", { userid: 501, goodsid })).body.errorcode, 0);
      }
      await call(system, "POST", "/purchases", { userid: 502, goodsid: pen });

      const history = await call(system, "GET", "/purchases/history?userid=501");
      assert.equal(history.status, 200);
      const { key, errorcode, errormessage, results } = history.body;
      assert.deepEqual({ errorcode, errormessage }, { errorcode: 0, errormessage: "success" });
      assert.equal(typeof key, "number");
      assert.deepEqual(Object.keys(history.body), ["key", "errorcode", "errormessage", "results"]);
      const plain = await call(system, "GET", "/purchases?userid=501");
      const penGoods = { name: "pen", category: "stationery", price: 1200 };
      const inkGoods = { name: "ink", category: "stationery", price: 800 };
      assert.deepEqual(
        results,
        plain.body.results.map((row: Json, index: number) => ({
          ...row,
          goods: [inkGoods, null, penGoods, null, inkGoods][index],
        })),
        JSON.stringify(results),
      );
      assert.deepEqual(results.map((row: Json) => row.goodsid), [ink, gone, pen, 987654, ink]);
      for (const row of results) {
        assert.deepEqual(Object.keys(row), ["id", "goodsid", "date", "goods"]);
        assert.match(row.date, DATE);
      }

      const page = await call(system, "GET", `/purchases/history?userid=501&limit=2&after=${results[0].id}`);
      assert.deepEqual(page.body.results, results.slice(1, 3));
      assert.deepEqual((await call(system, "GET", "/purchases/history?userid=777")).body.results, []);
      assert.equal((await call(system, "GET", "/purchases/history?userid=x")).body.errormessage, "Invalid Parameters");

      const lookup = await call(system, "GET", `/goods/lookup?ids=${ink},${gone},${pen}`);
      assert.deepEqual(lookup.body.results, [{ id: pen, ...penGoods }, { id: ink, ...inkGoods }]);
    });

    it("goods frozen: errorcode 1 saying goods could not be reached, before the gateway's deadline", async () => {
      const goods = system.services.get("goods")!;
      goods.signal("SIGSTOP");
      try {
        assertGoodsUnreachable(await timed(system, "/purchases/history?userid=501"), "frozen");
        const none = await call(system, "GET", "/purchases/history?userid=777");
        assert.deepEqual(none.body.results, [], "a history with nothing to look up needs no goods");
      } finally {
        goods.signal("SIGCONT");
      }
      const thawed = await call(system, "GET", "/purchases/history?userid=502");
      assert.equal(thawed.body.errorcode, 0, JSON.stringify(thawed.body));
      assert.equal(thawed.body.results[0].goods.name, "pen");
    });

    it("goods down: errorcode 1 at once", async () => {
      await system.services.get("goods")!.stop();
      const down = await timed(system, "/purchases/history?userid=501");
      assertGoodsUnreachable(down, "down");
      assert.ok(down.ms < 1000, `down: answered after ${down.ms} ms`);
      const plain = await call(system, "GET", "/purchases?userid=501");
      assert.equal(plain.body.errorcode, 0, "the rest of purchases goes on");
    });

    it("goods too slow (a book-protocol stand-in that answers late): errorcode 1 before the deadline", async () => {
      const asked: AnyPacket[] = [];
      slowGoods = await startBookService((packet, socket) => {
        asked.push(packet);
        setTimeout(() => {
          if (!socket.destroyed) {
            socket.write(
              JSON.stringify({ key: packet.params.key, errorcode: 0, errormessage: "success", results: [] }) + "¶",
            );
          }
        }, GATE_TIMEOUT_MS + 1000);
      });
      const purchases = system.services.get("purchases")!;
      const from = purchases.entries.length;
      slowGoodsNode = await BookPeer.connect(system.distributor.port);
      slowGoodsNode.send(registration("goods", slowGoods.port, ["GET/goods/lookup"]));
      await purchases.waitFor(
        (entry) => entry.event === "instance connected" && String(entry.details[0]).endsWith(`:${slowGoods!.port}`),
        10_000,
        from,
      );
      const slow = await timed(system, "/purchases/history?userid=501");
      assertGoodsUnreachable(slow, "slow");
      assert.match(slow.body.errormessage, /did not answer GET \/goods\/lookup within \d+ ms/);
      assert.equal(asked.length, 1, "the stand-in was asked once");
      assert.ok(asked[0].timeout > 0 && asked[0].timeout < GATE_TIMEOUT_MS, `timeout sent: ${asked[0].timeout}`);
    });
  });
}

historySuite("embedded store", false, () => Promise.resolve(undefined));
historySuite("MySQL", skipWithoutMysql, () => createTestDatabase("history"));
