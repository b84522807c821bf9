/** The whole system on MySQL (a fresh database on a real MariaDB): the docs/protocol.md §6 flow, concurrency, what is stored. */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createTestDatabase, skipWithoutMysql, type TestDatabase } from "./support/mysql.ts";
import { delay } from "./support/processes.ts";
import { call, runSpecFlow, SPEC_FLOW, startSystem, type System } from "./support/system.ts";

describe("system on MySQL", { skip: skipWithoutMysql }, () => {
  let database: TestDatabase;
  let system: System;
  before(async () => {
    database = await createTestDatabase("system");
    // 200 scrypt hashes at once take 3–6 s on two cores (Deno's scrypt is the slowest): the races below are
    // about atomicity, so the gateway may wait longer than its default 5 s.
    system = await startSystem({ env: { MYSQL_URL: database.url }, gateArgs: ["--timeout", "30000"] });
  });
  after(async () => {
    await system?.stop();
    await database?.drop();
  });

  it("answers the docs/protocol.md §6 flow with every errorcode 0, and keeps the rows in the database", async () => {
    const bodies = await runSpecFlow(system);
    assert.deepEqual(
      bodies.map((body) => [body.key, body.errorcode, body.errormessage]),
      SPEC_FLOW.map((_, key) => [key, 0, "success"]),
    );
    assert.equal(bodies[2].userid, 1);
    assert.deepEqual(bodies[4].results, [{
      id: 1,
      name: "test Goods",
      category: "tests",
      price: 1000,
      description: "test",
    }]);
    assert.equal(bodies[7].results.length, 1);
    assert.match(bodies[7].results[0].date, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/);

    const members = await database.query<{ username: string; password: string }[]>(
      "SELECT username, password FROM members",
    );
    assert.equal(members.length, 1);
    assert.equal(members[0].username, "test_account");
    assert.notEqual(members[0].password, "1234");
    assert.match(members[0].password, /^scrypt\$/, "stored as a salted slow hash");
    const purchases = await database.query<{ userid: number; goodsid: number }[]>(
      "SELECT userid, goodsid FROM purchases",
    );
    assert.deepEqual(purchases.map((row) => ({ ...row })), [{ userid: 1, goodsid: 1 }]);
  });

  it("gives exactly one success to 200 concurrent registrations of the same username", async () => {
    // Members sheds what it cannot hash soon (503 + Retry-After): each client tries again when told to, as a
    // well-behaved one does, until its registration has really been decided.
    const register = async (password: string) => {
      for (let attempt = 1;; attempt++) {
        const answer = await call(system, "POST", "/members", { username: "same", password });
        if (answer.status !== 503 || attempt === 30) return answer;
        assert.equal(answer.body.retryAfter, 1);
        await delay(1000);
      }
    };
    const attempts = await Promise.all(Array.from({ length: 200 }, (_, i) => register(`p${i}`)));
    assert.ok(attempts.every((attempt) => attempt.status === 200));
    assert.equal(attempts.filter((attempt) => attempt.body.errorcode === 0).length, 1);
    assert.ok(
      attempts.filter((attempt) => attempt.body.errorcode === 1).every((attempt) =>
        attempt.body.errormessage === "duplicate username"
      ),
    );
    const rows = await database.query<unknown[]>("SELECT id FROM members WHERE username = 'same'");
    assert.equal(rows.length, 1);
  });

  it("stores 1,000 rows for 1,000 concurrent POST /goods", async () => {
    const [{ count: before }] = await database.query<{ count: number }[]>("SELECT COUNT(*) AS count FROM goods");
    const posts = await Promise.all(
      Array.from(
        { length: 1000 },
        (_, i) => call(system, "POST", "/goods", { name: `g${i}`, category: "bulk", price: i, description: "상품" }),
      ),
    );
    assert.deepEqual(posts.filter((post) => post.status !== 200 || post.body.errorcode !== 0), []);
    const [{ count }] = await database.query<{ count: number }[]>(
      "SELECT COUNT(*) AS count FROM goods WHERE category = 'bulk'",
    );
    assert.equal(Number(count), 1000);
    assert.equal(Number(before), 0);
  });
});
