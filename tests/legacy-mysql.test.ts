/**
 * A database the book's programs made keeps working under Pilcrow: on a private MariaDB at time zone +09:00,
 * loaded with chapter 4's utf8 tables and rows written the book's way (PASSWORD(), CURRENT_TIMESTAMP), real
 * goods/members/purchases processes (some at TZ=Asia/Seoul, one at TZ=America/New_York) behind a gateway:
 * book members log in and are upgraded to the salted hash once, dates of both sides' rows are right, utf8mb3
 * tables are reported with the statement that converts them and emoji get a clear refusal until converted.
 * And the old-hash check itself, with stored values that are not hashes at all.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createLogger } from "../lib/log.ts";
import { IN_MEMORY, openSqliteDatabase } from "../lib/store/sqlite.ts";
import { membersHandlers } from "../services/members/handlers.ts";
import { checkPassword, hashPassword } from "../services/members/password.ts";
import { membersStore } from "../services/members/store.ts";
import { type BookDatabase, createBookDatabase } from "./support/book-schema.ts";
import { type PrivateMariadb, skipWithoutMariadb, startPrivateMariadb } from "./support/private-mariadb.ts";
import { type RunningProcess, startProcess } from "./support/processes.ts";
import { call, type Json, startSystem, type System, waitForInstances } from "./support/system.ts";

const SLOW = { timeout: 120_000 };
const DATABASE = "book";
/** Distinct from anything else in a log, so a leak of it is found. */
const BOOK_PASSWORD = "book-secret-7731";
const CONVERT = (table: string) => `ALTER TABLE ${table} CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`;

function mysqlPassword(password: string): string {
  const once = createHash("sha1").update(password, "utf8").digest();
  return "*" + createHash("sha1").update(once).digest("hex").toUpperCase();
}

describe("the old-hash check", () => {
  it("accepts the right password for MySQL's PASSWORD() form and gives a salted hash that verifies", async () => {
    // What MariaDB's PASSWORD('1234') gives.
    assert.equal(mysqlPassword("1234"), "*A4B6157319038724E3560894F7F932C8886EBFCF");
    const check = await checkPassword("1234", "*A4B6157319038724E3560894F7F932C8886EBFCF");
    assert.equal(check.valid, true);
    assert.match(check.rehash!, /^scrypt\$16384\$8\$1\$/);
    assert.deepEqual(await checkPassword("1234", check.rehash), { valid: true });
    assert.deepEqual(await checkPassword("12345", check.rehash), { valid: false });
    assert.deepEqual(await checkPassword("12345", mysqlPassword("1234")), { valid: false });
    assert.deepEqual(await checkPassword("", mysqlPassword("1234")), { valid: false });
    const unicode = "비밀번호 😀";
    assert.equal((await checkPassword(unicode, mysqlPassword(unicode))).valid, true);
  });

  it("never crashes and never logs in on a stored value that is no hash", async () => {
    const right = mysqlPassword("1234");
    const malformed: unknown[] = [
      "",
      "*",
      right.slice(0, 20),
      right.slice(1),
      `${right}0`,
      " " + right,
      right + "\n",
      right.toLowerCase(),
      "*" + "G".repeat(40),
      "*" + "Z1".repeat(20),
      "*" + "0".repeat(39) + "é",
      null,
      undefined,
      42,
      { password: right },
      "1234",
      "scrypt$",
      "scrypt$16384$8$1$$",
      "scrypt$abc$8$1$AAAA$AAAA",
      "scrypt$16385$8$1$AAAA$AAAA",
      "scrypt$0$8$1$AAAA$AAAA",
      "scrypt$-16384$8$1$AAAA$AAAA",
      "scrypt$16384$8$1$!!!!$AAAA",
      "scrypt$16384$8$1$AAAA$AAAA$extra",
      // A forged cost: gigabytes of memory and minutes if it were obeyed.
      "scrypt$1073741824$8$1$AAAA$AAAA",
      "scrypt$16384$8$1000000$AAAA$AAAA",
    ];
    for (const stored of malformed) {
      const started = performance.now();
      const check = await checkPassword("1234", stored);
      const ms = performance.now() - started;
      assert.deepEqual(check, { valid: false }, `stored ${JSON.stringify(stored)}`);
      assert.ok(ms < 2000, `stored ${JSON.stringify(stored)} took ${ms} ms`);
    }
  });

  it("takes about as long for a wrong password whatever the stored form (one scrypt each)", async () => {
    const ours = await hashPassword("1234");
    const legacy = mysqlPassword("1234");
    // Taken in turns, so that whatever else the machine does (other tests, in parallel) weighs on all three alike.
    const forms: unknown[] = [ours, legacy, "*bad"];
    const times: number[][] = forms.map(() => []);
    for (let round = 0; round < 9; round++) {
      for (const [index, stored] of forms.entries()) {
        const started = performance.now();
        await checkPassword("wrong", stored);
        times[index].push(performance.now() - started);
      }
    }
    const [oursMs, legacyMs, malformedMs] = times.map((each) => each.sort((a, b) => a - b)[4]);
    console.log(
      `wrong password, median ms: salted ${oursMs.toFixed(1)}, PASSWORD() ${legacyMs.toFixed(1)}, `
        + `malformed ${malformedMs.toFixed(1)}`,
    );
    for (const [what, ms] of [["PASSWORD()", legacyMs], ["malformed", malformedMs]] as const) {
      assert.ok(ms > oursMs * 0.5 && ms < oursMs * 2, `${what} ${ms} ms against ${oursMs} ms for a salted hash`);
    }
  });
});

describe("a book's member imported into SQLite", () => {
  it("logs in with the right password, is upgraded once, and a stale upgrade changes nothing", async () => {
    const db = await openSqliteDatabase(IN_MEMORY, "members");
    try {
      const store = await membersStore(db);
      await db.run("INSERT INTO members (username, password) VALUES (?, ?)", ["imported", mysqlPassword("pw")]);
      const lines: string[] = [];
      const log = createLogger({ name: "members", format: "json", out: { write: (line) => lines.push(line) } });
      const handlers = membersHandlers(store);
      const login = handlers["GET/members"] as (params: unknown, context: unknown) => Promise<{ userid: number }>;
      const context = { deadline: Infinity, log, call: () => Promise.reject(new Error("no calls")) };

      await assert.rejects(login({ username: "imported", password: "wrong" }, context), /invalid password/);
      assert.equal((await store.find("imported"))!.password, mysqlPassword("pw"));
      assert.deepEqual(await login({ username: "imported", password: "pw" }, context), { userid: 1 });
      const upgraded = (await store.find("imported"))!.password;
      assert.match(upgraded, /^scrypt\$/);
      assert.deepEqual(await login({ username: "imported", password: "pw" }, context), { userid: 1 });
      assert.equal(lines.filter((line) => line.includes("password upgraded")).length, 1, lines.join(""));
      assert.ok(lines.every((line) => !line.includes("\"pw\"")));

      // An upgrade from a hash that is no longer stored (another login got there first) changes nothing.
      assert.equal(await store.upgradePassword(1, mysqlPassword("pw"), "scrypt$stale"), false);
      assert.equal((await store.find("imported"))!.password, upgraded);
    } finally {
      await db.close();
    }
  });
});

describe("a book's database on MariaDB at +09:00", { skip: skipWithoutMariadb }, () => {
  let server: PrivateMariadb;
  let book: BookDatabase;
  let system: System;
  let newYork: RunningProcess;
  /** The instant each book purchase was written, by the server's clock (UNIX_TIMESTAMP() right after). */
  const bookPurchases = new Map<number, number>();
  let bookUserId: number;

  /** A file as the machine's own MariaDB names its temporary tables in /tmp: a private server must not touch it. */
  const canary = join(tmpdir(), `#sql-pilcrow-canary-${process.pid}`);

  before(async () => {
    writeFileSync(canary, "");
    server = await startPrivateMariadb({ timeZone: "+09:00" });
    book = await createBookDatabase(server.url(), DATABASE);
    await book.query("INSERT INTO goods (name, category, price, description) VALUES ('책', 'book', 1000, '상품')");
    bookUserId = await book.registerMember("book_user", BOOK_PASSWORD);
    await book.registerMember("racer", BOOK_PASSWORD);
    await book.registerMember("wrong_guess", BOOK_PASSWORD);
    for (let i = 0; i < 2; i++) {
      const id = await book.purchase(bookUserId, 1);
      const [{ now }] = await book.query<{ now: number }[]>("SELECT UNIX_TIMESTAMP() AS now");
      bookPurchases.set(id, now * 1000);
    }
    system = await startSystem({
      env: { MYSQL_URL: server.url(DATABASE), TZ: "Asia/Seoul" },
      gateArgs: ["--timeout", "20000"],
    });
    // A second purchases instance in another time zone: the gateway alternates between the two.
    const from = system.gate.entries.length;
    newYork = await startProcess(
      "purchases.ts",
      ["0", "--distributor", `127.0.0.1:${system.distributor.port}`],
      { env: { MYSQL_URL: server.url(DATABASE), TZ: "America/New_York" } },
    );
    await waitForInstances(system, 1, from);
  }, SLOW);

  it("starting a private server leaves the machine's server's temporary tables in /tmp alone", () => {
    assert.ok(existsSync(canary), "a private MariaDB deleted /tmp/#sql* files: give it a tmpdir of its own");
    rmSync(canary);
  });

  after(async () => {
    await newYork?.stop();
    await system?.stop();
    await book?.end();
    await server?.destroy();
  }, SLOW);

  const members = () => system.services.get("members")!;
  const storedPassword = async (username: string) =>
    (await book.query<{ password: string }[]>("SELECT password FROM members WHERE username = ?", [username]))[0]
      .password;

  it("reports each utf8mb3 table once at start-up, with the statement that converts it", () => {
    for (const [table, service] of [["goods", "goods"], ["members", "members"], ["purchases", "purchases"]]) {
      for (const process of [system.services.get(service)!, ...(service === "purchases" ? [newYork] : [])]) {
        const warnings = process.entries.filter((entry) =>
          entry.level === "warn" && JSON.stringify(entry.details).includes(CONVERT(table))
        );
        assert.equal(warnings.length, 1, `${service}: ${process.output.join("\n")}`);
        assert.match(JSON.stringify(warnings[0].details), /utf8mb3/);
      }
    }
    const store = members().entries.find((entry) => entry.event === "store" && entry.level === "info");
    assert.match(JSON.stringify(store?.details), /dates kept in its time zone \(\+09:00\)/);
  });

  it("logs a book member in with the right password and upgrades the row to the salted hash, once", SLOW, async () => {
    assert.equal(await storedPassword("book_user"), mysqlPassword(BOOK_PASSWORD));
    const path = `/members?username=book_user&password=${BOOK_PASSWORD}`;
    const first = await call(system, "GET", path);
    assert.deepEqual([first.body.errorcode, first.body.userid], [0, bookUserId], JSON.stringify(first.body));
    const upgraded = await storedPassword("book_user");
    assert.match(upgraded, /^scrypt\$16384\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);

    const second = await call(system, "GET", path);
    assert.deepEqual([second.body.errorcode, second.body.userid], [0, bookUserId]);
    assert.equal(await storedPassword("book_user"), upgraded, "a current hash is not rewritten");
    const wrong = await call(system, "GET", "/members?username=book_user&password=1234");
    assert.deepEqual([wrong.body.errorcode, wrong.body.errormessage], [1, "invalid password"]);

    const upgrades = members().entries.filter((entry) => entry.event === "password upgraded");
    assert.equal(upgrades.length, 1, members().output.join("\n"));
    assert.equal(upgrades[0].level, "info");
    assert.deepEqual((upgrades[0].details[0] as Json).userid, bookUserId);
  });

  it("upgrades once when two logins of a book member race", SLOW, async () => {
    const before = members().entries.filter((entry) => entry.event === "password upgraded").length;
    const answers = await Promise.all(
      [1, 2, 3].map(() => call(system, "GET", `/members?username=racer&password=${BOOK_PASSWORD}`)),
    );
    assert.deepEqual(answers.map((answer) => answer.body.errorcode), [0, 0, 0], JSON.stringify(answers));
    assert.match(await storedPassword("racer"), /^scrypt\$/);
    const after = members().entries.filter((entry) => entry.event === "password upgraded").length;
    assert.equal(after - before, 1);
    const again = await call(system, "GET", `/members?username=racer&password=${BOOK_PASSWORD}`);
    assert.equal(again.body.errorcode, 0);
  });

  it("refuses a wrong password for a book member as for any, and leaves the row as it was", SLOW, async () => {
    const answer = await call(system, "GET", "/members?username=wrong_guess&password=not-it");
    assert.deepEqual([answer.body.errorcode, answer.body.errormessage], [1, "invalid password"]);
    const unknown = await call(system, "GET", "/members?username=nobody_here&password=not-it");
    assert.deepEqual([unknown.body.errorcode, unknown.body.errormessage], [1, "invalid password"]);
    assert.equal(await storedPassword("wrong_guess"), mysqlPassword(BOOK_PASSWORD));
  });

  it("answers duplicate username to registering a name the book registered", async () => {
    const answer = await call(system, "POST", "/members", { username: "wrong_guess", password: "x" });
    assert.deepEqual([answer.body.errorcode, answer.body.errormessage], [1, "duplicate username"]);
    assert.equal(await storedPassword("wrong_guess"), mysqlPassword(BOOK_PASSWORD));
  });

  it("never writes the password to a log", () => {
    for (const process of system.all()) {
      const leaks = process.output.filter((line) => line.includes(BOOK_PASSWORD));
      assert.deepEqual(leaks, [], process.name);
    }
  });

  it(
    "dates the book's rows and Pilcrow's right, through instances at TZ=Asia/Seoul and America/New_York",
    SLOW,
    async () => {
      const posted: number[] = [];
      for (let i = 0; i < 2; i++) {
        const answer = await call(system, "POST", "/purchases", { userid: bookUserId, goodsid: 1 });
        assert.equal(answer.body.errorcode, 0);
        posted.push(Date.now());
      }
      const rows = await book.query<{ id: number; instant: number; wall: string }[]>(
        "SELECT id, UNIX_TIMESTAMP(date) * 1000 AS instant, DATE_FORMAT(date, '%Y-%m-%d %H:%i:%s') AS wall "
          + "FROM purchases ORDER BY id",
      );
      assert.equal(rows.length, 4);
      // What is stored: the wall-clock time at +09:00, as the book's CURRENT_TIMESTAMP writes it.
      for (const row of rows) {
        const seoul = new Date(Number(row.instant) + 9 * 3_600_000).toISOString().slice(0, 19).replace("T", " ");
        assert.equal(row.wall, seoul);
      }
      const expected = new Map(bookPurchases);
      rows.slice(2).forEach((row, index) => expected.set(row.id, posted[index]));

      // Each GET goes to one of the two purchases instances in turn: both must say the same.
      for (let attempt = 0; attempt < 4; attempt++) {
        const answer = await call(system, "GET", `/purchases?userid=${bookUserId}`);
        assert.equal(answer.body.errorcode, 0);
        assert.deepEqual(answer.body.results.map((row: Json) => row.id), [...expected.keys()]);
        for (const row of answer.body.results) {
          assert.match(row.date, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/);
          const off = Date.parse(row.date) - expected.get(row.id)!;
          assert.ok(Math.abs(off) <= 2000, `purchase ${row.id} dated ${row.date}, ${off / 3_600_000} hours off`);
        }
      }
    },
  );

  it(
    "refuses text a utf8mb3 table cannot hold with a clear message, and takes it once the table is converted",
    SLOW,
    async () => {
      const emoji = { name: "cake 🍰", category: "food", price: 5, description: "sweet" };
      const refused = await call(system, "POST", "/goods", emoji);
      assert.deepEqual(
        [refused.body.errorcode, refused.body.errormessage],
        [1, "name cannot be stored: the goods table is utf8mb3; convert it to utf8mb4"],
      );
      const described = await call(system, "POST", "/goods", { ...emoji, name: "cake", description: "🍰" });
      assert.equal(
        described.body.errormessage,
        "description cannot be stored: the goods table is utf8mb3; convert it to utf8mb4",
      );
      const registered = await call(system, "POST", "/members", { username: "👻", password: "x" });
      assert.equal(
        registered.body.errormessage,
        "username cannot be stored: the members table is utf8mb3; convert it to utf8mb4",
      );
      const login = await call(system, "GET", `/members?username=${encodeURIComponent("👻")}&password=x`);
      assert.equal(login.body.errormessage, "invalid password");
      const removed = await call(system, "DELETE", `/members?username=${encodeURIComponent("👻")}`);
      assert.equal(removed.body.errorcode, 0);
      // Three-byte text was always fine.
      const korean = await call(system, "POST", "/goods", { ...emoji, name: "케이크" });
      assert.equal(korean.body.errorcode, 0);

      await book.query(CONVERT("goods"));
      const taken = await call(system, "POST", "/goods", emoji);
      assert.equal(taken.body.errorcode, 0, JSON.stringify(taken.body));
      const list = await call(system, "GET", "/goods");
      assert.ok(list.body.results.some((row: Json) => row.name === "cake 🍰"), JSON.stringify(list.body));
      const [row] = await book.query<{ name: string }[]>("SELECT name FROM goods WHERE name LIKE 'cake%'");
      assert.equal(row.name, "cake 🍰");
    },
  );
});
