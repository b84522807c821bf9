/**
 * One contract suite for every service's store, run against each implementation: SQLite (a file in a fresh
 * directory, and in memory) and MySQL on a real MariaDB.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createLogger } from "../lib/log.ts";
import { StoreError } from "../lib/store/contract.ts";
import { openMysql } from "../lib/store/mysql.ts";
import type { SqlDatabase } from "../lib/store/sql.ts";
import { IN_MEMORY, openSqliteDatabase, openSqliteStore } from "../lib/store/sqlite.ts";
import { MAX_LOOKUP_IDS } from "../services/goods/contract.ts";
import { type GoodsStore, goodsStore } from "../services/goods/store.ts";
import { type MembersStore, membersStore } from "../services/members/store.ts";
import { type PurchasesStore, purchasesStore } from "../services/purchases/store.ts";
import { createTestDatabase, mysqlServerUrl, skipWithoutMysql, type TestDatabase } from "./support/mysql.ts";

const quiet = createLogger({ name: "test", level: "error" });

/** The three services' stores, as each service opens its own. */
interface Stores {
  goods: GoodsStore;
  members: MembersStore;
  purchases: PurchasesStore;
  close(): Promise<void>;
}

async function mysqlStores(url: string): Promise<Stores> {
  const opened = await openMysql(url, quiet, async (db) => ({
    goods: await goodsStore(db),
    members: await membersStore(db),
    purchases: await purchasesStore(db),
  }));
  return { ...opened.store, close: opened.close };
}

/** Each service in its own database, as each service opens its own file under the data directory. */
async function sqliteStores(dataDir: string): Promise<Stores> {
  const goods = await openSqliteStore(dataDir, "goods", goodsStore);
  const members = await openSqliteStore(dataDir, "members", membersStore);
  const purchases = await openSqliteStore(dataDir, "purchases", purchasesStore);
  return {
    goods: goods.store,
    members: members.store,
    purchases: purchases.store,
    close: async () => void await Promise.all([goods.close(), members.close(), purchases.close()]),
  };
}

/** On either database: a broken UNIQUE or PRIMARY KEY is a StoreError of kind `duplicate`, another failure not. */
async function assertDuplicatesMarked(db: SqlDatabase): Promise<void> {
  await membersStore(db);
  await db.run("INSERT INTO members (id, username, password) VALUES (1, 'a', 'h')");
  const duplicate = (error: unknown) => error instanceof StoreError && error.kind === "duplicate";
  await assert.rejects(db.run("INSERT INTO members (username, password) VALUES ('a', 'h')"), duplicate);
  await assert.rejects(db.run("INSERT INTO members (id, username, password) VALUES (1, 'b', 'h')"), duplicate);
  await assert.rejects(db.run("INSERT INTO nowhere VALUES (1)"), (error: unknown) => !duplicate(error));
}

function contract(
  name: string,
  open: () => Promise<Stores>,
  teardown: () => Promise<void> = async () => {},
  skip: string | false = false,
) {
  describe(`store contract: ${name}`, { skip }, () => {
    let store: Stores;
    before(async () => {
      store = await open();
    });
    after(async () => {
      await store?.close();
      await teardown();
    });

    it("goods: adds with increasing ids, lists in id order, removes by id (a missing id is no error)", async () => {
      assert.deepEqual(await store.goods.list(), []);
      const first = await store.goods.add({ name: "한글 ¶", category: "c", price: 1000, description: "d 🎉" });
      const second = await store.goods.add({ name: "b", category: "c2", price: -5, description: "" });
      assert.ok(second > first);
      assert.deepEqual(await store.goods.list(), [
        { id: first, name: "한글 ¶", category: "c", price: 1000, description: "d 🎉" },
        { id: second, name: "b", category: "c2", price: -5, description: "" },
      ]);
      await store.goods.remove(first);
      await store.goods.remove(987654);
      assert.deepEqual((await store.goods.list()).map((goods) => goods.id), [second]);
      const third = await store.goods.add({ name: "c", category: "c", price: 1, description: "d" });
      assert.ok(third > second, "ids are not reused");
    });

    it("goods: lists a page — at most `limit` rows with an id above `after`, in id order", async () => {
      const ids: number[] = [];
      for (let i = 0; i < 5; i++) {
        ids.push(await store.goods.add({ name: `p${i}`, category: "page", price: i, description: "" }));
      }
      const all = (await store.goods.list()).map((goods) => goods.id);
      const tail = all.slice(all.indexOf(ids[0]));
      assert.deepEqual(tail, ids, "without a page, the whole list as before");
      assert.deepEqual((await store.goods.list({ limit: 2 })).map((goods) => goods.id), all.slice(0, 2));
      assert.deepEqual((await store.goods.list({ after: ids[1] })).map((goods) => goods.id), ids.slice(2));
      const page = await store.goods.list({ after: ids[1], limit: 2 });
      assert.deepEqual(page, [
        { id: ids[2], name: "p2", category: "page", price: 2, description: "" },
        { id: ids[3], name: "p3", category: "page", price: 3, description: "" },
      ]);
      assert.deepEqual(await store.goods.list({ after: ids[4] }), [], "nothing after the last id");
      await store.goods.remove(ids[3]);
      assert.deepEqual((await store.goods.list({ after: ids[2], limit: 1 })).map((goods) => goods.id), [ids[4]]);
    });

    it("goods: looks up several ids at once, in id order, leaving out ids with no goods", async () => {
      const a = await store.goods.add({ name: "look a", category: "lookup", price: 1, description: "da" });
      const b = await store.goods.add({ name: "look b", category: "lookup", price: 2, description: "db" });
      const gone = await store.goods.add({ name: "gone", category: "lookup", price: 3, description: "" });
      await store.goods.remove(gone);
      assert.deepEqual(await store.goods.lookup([b, 987654, gone, a, b]), [
        { id: a, name: "look a", category: "lookup", price: 1, description: "da" },
        { id: b, name: "look b", category: "lookup", price: 2, description: "db" },
      ]);
      assert.deepEqual(await store.goods.lookup([]), []);
      assert.deepEqual(await store.goods.lookup([gone]), []);
      // As many ids as a request may ask for, one placeholder each, the present ones among them.
      const many = Array.from({ length: MAX_LOOKUP_IDS - 2 }, (_, i) => 2_000_000_000 + i);
      assert.deepEqual((await store.goods.lookup([...many, b, a])).map((goods) => goods.id), [a, b]);
    });

    it("members: unique usernames, find, remove", async () => {
      const id = await store.members.add("kim", "hash-1");
      assert.equal(typeof id, "number");
      assert.equal(await store.members.add("kim", "hash-2"), undefined);
      assert.deepEqual(await store.members.find("kim"), { id, username: "kim", password: "hash-1" });
      assert.equal(await store.members.find("lee"), undefined);
      assert.equal(await store.members.find("' OR '1'='1"), undefined, "no SQL is built from values");
      await store.members.remove("kim");
      await store.members.remove("nobody");
      assert.equal(await store.members.find("kim"), undefined);
      assert.equal(typeof await store.members.add("kim", "hash-3"), "number", "the name is free again");
    });

    it("members: of many concurrent registrations of one username exactly one succeeds", async () => {
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => store.members.add("race", `h${i}`)));
      assert.equal(results.filter((id) => id !== undefined).length, 1);
    });

    it("purchases: recorded now, to the second, listed per user in id order", async () => {
      const before = Math.floor(Date.now() / 1000) * 1000;
      const a = await store.purchases.add(7, 1);
      await store.purchases.add(8, 1);
      const b = await store.purchases.add(7, 2);
      const rows = await store.purchases.listByUser(7);
      assert.deepEqual(rows.map(({ id, userid, goodsid }) => ({ id, userid, goodsid })), [
        { id: a, userid: 7, goodsid: 1 },
        { id: b, userid: 7, goodsid: 2 },
      ]);
      for (const row of rows) {
        assert.ok(row.date instanceof Date);
        assert.equal(row.date.getTime() % 1000, 0);
        assert.ok(row.date.getTime() >= before && row.date.getTime() <= Date.now() + 1000, row.date.toISOString());
      }
      assert.deepEqual(await store.purchases.listByUser(999), []);
    });

    it("purchases: lists a user's page — at most `limit` rows with an id above `after`", async () => {
      const ids: number[] = [];
      for (let goodsid = 1; goodsid <= 4; goodsid++) {
        ids.push(await store.purchases.add(70, goodsid));
        await store.purchases.add(71, goodsid);
      }
      const idsOf = (rows: { id: number; userid: number }[]) => rows.map(({ id, userid }) => [id, userid]);
      assert.deepEqual(idsOf(await store.purchases.listByUser(70, { limit: 2 })), [[ids[0], 70], [ids[1], 70]]);
      assert.deepEqual(idsOf(await store.purchases.listByUser(70, { after: ids[1] })), [[ids[2], 70], [ids[3], 70]]);
      assert.deepEqual(idsOf(await store.purchases.listByUser(70, { after: ids[0], limit: 1 })), [[ids[1], 70]]);
      assert.deepEqual(await store.purchases.listByUser(70, { after: ids[3] }), []);
    });
  });
}

let sqliteDir = "";
contract(
  "SQLite file",
  () => {
    sqliteDir = mkdtempSync(join(tmpdir(), "pilcrow-contract-"));
    return sqliteStores(sqliteDir);
  },
  async () => rmSync(sqliteDir, { recursive: true, force: true }),
);
contract("SQLite in memory", () => sqliteStores(IN_MEMORY));

let database: TestDatabase | undefined;
contract(
  "MySQL",
  async () => {
    database = await createTestDatabase("contract");
    return mysqlStores(database.url);
  },
  async () => await database?.drop(),
  skipWithoutMysql,
);

describe("MySQL tables", { skip: skipWithoutMysql }, () => {
  it("creates the book's tables, accepts a database made for the original, and refuses a table lacking columns", async () => {
    const db = await createTestDatabase("schema");
    try {
      // The original's members table, as the book's SQL makes it.
      await db.query(
        "CREATE TABLE members (id int NOT NULL AUTO_INCREMENT PRIMARY KEY, username varchar(128) NOT NULL UNIQUE, password varchar(256) NOT NULL)",
      );
      const store = await mysqlStores(db.url);
      await store.close();
      const tables = await db.query<{ name: string }[]>(
        "SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME",
        [db.name],
      );
      // The book's three, and the one where Pilcrow keeps idempotency keys (lib/store/idempotency.ts).
      assert.deepEqual(tables.map((table) => table.name), ["goods", "members", "pilcrow_idempotency", "purchases"]);

      await db.query("DROP TABLE goods");
      await db.query("CREATE TABLE goods (id int NOT NULL AUTO_INCREMENT PRIMARY KEY, name varchar(128) NOT NULL)");
      await assert.rejects(
        openMysql(db.url, quiet, goodsStore),
        /table goods exists but lacks the column\(s\) category, price, description/,
      );
    } finally {
      await db.drop();
    }
  });

  it("marks a broken UNIQUE or PRIMARY KEY as a duplicate (errno 1062), any other failure not", async () => {
    const db = await createTestDatabase("duplicate");
    const opened = await openMysql(db.url, quiet, (mysql) => Promise.resolve(mysql));
    try {
      await assertDuplicatesMarked(opened.store);
    } finally {
      await opened.close();
      await db.drop();
    }
  });

  it("fails to open with a clear message, without the password, when the server refuses", async () => {
    const url = new URL(mysqlServerUrl!);
    url.username = "nobody_here";
    url.password = "s3cret-pass";
    await assert.rejects(openMysql(url.toString(), quiet, goodsStore), (error: Error) => {
      assert.match(error.message, /^MySQL at mysql:\/\/nobody_here@/);
      assert.ok(!error.message.includes("s3cret-pass"));
      return true;
    });
  });
});

describe("SQLite tables", () => {
  it("creates the tables in one file per service, keeps them across a reopen, and refuses a table lacking columns", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "pilcrow-schema-"));
    try {
      const first = await sqliteStores(dataDir);
      const id = await first.goods.add({ name: "kept", category: "c", price: 1, description: "" });
      await first.close();
      const again = await sqliteStores(dataDir);
      assert.deepEqual(await again.goods.list(), [{ id, name: "kept", category: "c", price: 1, description: "" }]);
      await again.close();

      const db = await openSqliteDatabase(dataDir, "other");
      await db.run("CREATE TABLE goods (id INTEGER PRIMARY KEY, name TEXT NOT NULL)");
      await db.close();
      await assert.rejects(
        openSqliteStore(dataDir, "other", goodsStore),
        /other\.sqlite: table goods exists but lacks the column\(s\) category, price, description/,
      );
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it("refuses what MySQL's columns refuse: a name over 128 characters, a price beyond int", async () => {
    const db = await openSqliteDatabase(IN_MEMORY, "goods");
    try {
      const goods = await goodsStore(db);
      await goods.add({ name: "n".repeat(128), category: "c", price: 2147483647, description: "" });
      // A broken CHECK is a failure, not a duplicate: only a unique key broken is the client's answer.
      const failed = (error: unknown) => error instanceof StoreError && error.kind === "failure";
      await assert.rejects(goods.add({ name: "n".repeat(129), category: "c", price: 1, description: "" }), failed);
      await assert.rejects(goods.add({ name: "n", category: "c", price: 2147483648, description: "" }), failed);
    } finally {
      await db.close();
    }
  });

  it("marks a broken UNIQUE or PRIMARY KEY as a duplicate, any other failure not", async () => {
    const db = await openSqliteDatabase(IN_MEMORY, "members");
    try {
      await assertDuplicatesMarked(db);
    } finally {
      await db.close();
    }
  });

  it("keeps a purchase's date as UTC ISO text, and reads a row the table's default wrote as the same instant", async () => {
    const db = await openSqliteDatabase(IN_MEMORY, "purchases");
    try {
      const purchases = await purchasesStore(db);
      const before = Math.floor(Date.now() / 1000) * 1000;
      const id = await purchases.add(5, 6);
      await db.run("INSERT INTO purchases (userid, goodsid) VALUES (5, 7)");
      await db.run("INSERT INTO purchases (userid, goodsid, date) VALUES (5, 8, '2026-03-29T01:30:00.000Z')");
      const [{ date }] = await db.run<{ date: string }[]>("SELECT date FROM purchases WHERE id = ?", [id]);
      assert.match(date, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/);
      const rows = await purchases.listByUser(5);
      assert.equal(rows[0].date.toISOString(), date);
      assert.ok(rows[1].date.getTime() >= before && rows[1].date.getTime() <= Date.now() + 1000);
      assert.equal(rows[2].date.toISOString(), "2026-03-29T01:30:00.000Z");
    } finally {
      await db.close();
    }
  });
});
