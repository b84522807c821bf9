/**
 * The SQLite layer on the runtime under test (lib/runtime/sqlite.ts, lib/store/sqlite.ts): one file shared by
 * two processes writing at once, writes that outlive a SIGKILL, a lock held by another process, input that
 * SQLite cannot hold, and data directories that cannot be used. The second process runs
 * tests/support/sqlite-writer.ts on the same runtime.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { DENO_PERMISSIONS, runtimeName } from "../lib/runtime/mod.ts";
import { SqliteFailure } from "../lib/runtime/sqlite.ts";
import { StoreError } from "../lib/store/contract.ts";
import { IN_MEMORY, openSqliteDatabase, type SqliteDatabase } from "../lib/store/sqlite.ts";
import { delay, type RunningProcess, startProcess } from "./support/processes.ts";

interface Row {
  id: number;
  tag: string;
  n: number;
}

/** The writer in a second process, allowed on Deno to read and write the data directory and nothing more. */
function startWriter(dataDir: string, args: string[]): Promise<RunningProcess> {
  const denoPermissions = [
    ...DENO_PERMISSIONS.map((flag) => flag.startsWith("--allow-read=") ? `${flag},${dataDir}` : flag),
    `--allow-write=${dataDir}`,
  ];
  return startProcess("tests/support/sqlite-writer.ts", [args[0], dataDir, ...args.slice(1)], {
    waitForListen: false,
    denoPermissions,
  });
}

function writtenIds(writer: RunningProcess): number[] {
  return writer.entries.filter((entry) => entry.event === "written").map((entry) =>
    (entry.details[0] as { id: number }).id
  );
}

/** The StoreError's SqliteFailure, to read its kind and message. */
function failureOf(error: unknown): SqliteFailure {
  assert.ok(error instanceof StoreError, `a StoreError, not ${error}`);
  assert.equal(error.message, "Database Error", "the client sees no detail");
  assert.ok(error.cause instanceof SqliteFailure);
  return error.cause;
}

describe("SQLite shared by processes", () => {
  let dataDir = "";
  const processes: RunningProcess[] = [];
  before(() => {
    dataDir = mkdtempSync(join(tmpdir(), "pilcrow-sqlite-"));
  });
  after(async () => {
    await Promise.all(processes.map((running) => running.stop()));
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("two processes writing one file at once: no write fails or is lost, and each sees the other's", {
    timeout: 120_000,
  }, async () => {
    const count = 300;
    const writer = await startWriter(dataDir, ["write", "child", String(count), "parent"]);
    processes.push(writer);
    await writer.waitForEvent("ready", 30_000);
    const db = await openSqliteDatabase(dataDir, "shared");
    try {
      for (let n = 0; n < count; n++) {
        await db.run("INSERT INTO rows (tag, n) VALUES (?, ?)", ["parent", n]);
        await delay(1);
      }
      const done = await writer.waitForEvent("done", 60_000);
      assert.equal(await writer.exited, 0, writer.output.join("\n"));
      const seenByChild = done.details[0] as Record<string, number>;
      assert.equal(seenByChild.child, count);
      assert.ok(seenByChild.parent > 0, "the child saw the parent's writes");

      const rows = await db.run<Row[]>("SELECT id, tag, n FROM rows ORDER BY id");
      for (const tag of ["parent", "child"]) {
        const ns = rows.filter((row) => row.tag === tag).map((row) => row.n);
        assert.deepEqual(ns, Array.from({ length: count }, (_, n) => n), `every ${tag} row, once, in order`);
      }
      const childIds = rows.filter((row) => row.tag === "child").map((row) => row.id);
      assert.deepEqual(childIds, writtenIds(writer), "the ids the child was given are its rows");
      assert.ok(
        childIds[childIds.length - 1] - childIds[0] + 1 > count,
        "the two processes' writes interleaved (else this test proved nothing)",
      );
    } finally {
      await db.close();
    }
  });

  it("every write acknowledged by a process killed with SIGKILL is there after", { timeout: 120_000 }, async () => {
    const writer = await startWriter(dataDir, ["write", "killed", "0"]);
    processes.push(writer);
    await writer.waitFor(() => writtenIds(writer).length >= 200, 60_000);
    writer.signal("SIGKILL");
    await writer.exited;
    const acknowledged = writtenIds(writer);
    const db = await openSqliteDatabase(dataDir, "shared");
    try {
      const rows = await db.run<Row[]>("SELECT id, tag, n FROM rows WHERE tag = ? ORDER BY id", ["killed"]);
      const kept = new Map(rows.map((row) => [row.id, row.n]));
      const lost = acknowledged.filter((id) => !kept.has(id));
      assert.deepEqual(lost, [], `${lost.length} of ${acknowledged.length} acknowledged writes lost`);
      assert.ok(rows.length >= acknowledged.length);
      assert.deepEqual(rows.map((row) => row.n), rows.map((_, n) => n), "no row half-written or out of order");
    } finally {
      await db.close();
    }
  });

  it("a write waits for another process's short lock, and fails within a bounded time on a long one", {
    timeout: 120_000,
  }, async () => {
    const db = await openSqliteDatabase(dataDir, "shared");
    try {
      const short = await startWriter(dataDir, ["lock", "300"]);
      processes.push(short);
      await short.waitForEvent("locked", 30_000);
      await db.run("INSERT INTO rows (tag, n) VALUES (?, ?)", ["after short lock", 0]);
      assert.equal(await short.exited, 0, short.output.join("\n"));

      const long = await startWriter(dataDir, ["lock", "8000"]);
      processes.push(long);
      await long.waitForEvent("locked", 30_000);
      const started = Date.now();
      const error = await db.run("INSERT INTO rows (tag, n) VALUES (?, ?)", ["during long lock", 0]).then(
        () => undefined,
        (error: unknown) => error,
      );
      const waited = Date.now() - started;
      assert.equal(failureOf(error).kind, "busy");
      assert.ok(waited >= 1500 && waited < 5000, `gave up after ${waited} ms`);
      await long.stop();
      const rows = await db.run<Row[]>("SELECT tag FROM rows WHERE tag LIKE ?", ["%lock"]);
      assert.deepEqual(rows.map((row) => row.tag), ["after short lock"]);
    } finally {
      await db.close();
    }
  });

  it("keeps its data when closed and opened again", async () => {
    const first = await openSqliteDatabase(dataDir, "reopened");
    await first.run("CREATE TABLE kept (id INTEGER PRIMARY KEY, text TEXT NOT NULL)");
    await first.run("INSERT INTO kept (text) VALUES (?)", ["still here ¶"]);
    await first.close();
    const again = await openSqliteDatabase(dataDir, "reopened");
    assert.deepEqual(await again.run("SELECT id, text FROM kept"), [{ id: 1, text: "still here ¶" }]);
    assert.deepEqual(await again.run("PRAGMA journal_mode"), [{ journal_mode: "wal" }]);
    assert.deepEqual(await again.run("PRAGMA synchronous"), [{ synchronous: 2 }], "FULL");
    await again.close();
  });

  it("reads rows under their columns' current names after another connection's schema change", async () => {
    // Rows of a statement naming its columns are read as arrays under names kept from its first read (faster); a
    // statement with `*` takes the driver's objects, whose names follow the table. Deno's node:sqlite gives the
    // first `*` read after another connection's schema change in the old shape (old names, no new column) and the
    // next one right: there the second read is checked.
    const reader = await openSqliteDatabase(dataDir, "schema");
    const changer = await openSqliteDatabase(dataDir, "schema");
    const star = async () => {
      if (runtimeName === "deno") await reader.run("SELECT * FROM t");
      return reader.run("SELECT * FROM t");
    };
    const named = "SELECT a, b, c AS see FROM t";
    try {
      await reader.run("CREATE TABLE t (a INTEGER, b TEXT, c TEXT)");
      await reader.run("INSERT INTO t VALUES (1, 'x', 'y')");
      const rows = await reader.run<Record<string, unknown>[]>(named);
      assert.deepEqual(rows, [{ a: 1, b: "x", see: "y" }]);
      assert.equal(Object.getPrototypeOf(rows[0]), Object.prototype, "a plain object");
      assert.deepEqual(await star(), [{ a: 1, b: "x", c: "y" }]);
      // Still valid after a column is added: SQLite prepares it again, with the same columns.
      await changer.run("ALTER TABLE t ADD COLUMN d INTEGER DEFAULT 4");
      assert.deepEqual(await reader.run(named), [{ a: 1, b: "x", see: "y" }]);
      assert.deepEqual(await star(), [{ a: 1, b: "x", c: "y", d: 4 }]);
      // No longer valid after a column it names is renamed: it fails, rather than read under the old name.
      await changer.run("ALTER TABLE t RENAME COLUMN b TO bee");
      await assert.rejects(
        reader.run(named),
        (error: StoreError) => /no such column: b/.test((error.cause as Error).message),
      );
      assert.deepEqual(await star(), [{ a: 1, bee: "x", c: "y", d: 4 }]);
      assert.deepEqual(await reader.run("SELECT a, bee, c AS see, d FROM t"), [{ a: 1, bee: "x", see: "y", d: 4 }]);
    } finally {
      await reader.close();
      await changer.close();
    }
  });
});

describe("SQLite and hostile input", () => {
  let db: SqliteDatabase;
  before(async () => {
    db = await openSqliteDatabase(IN_MEMORY, "hostile");
    await db.run("CREATE TABLE t (id INTEGER PRIMARY KEY, text TEXT, blob BLOB, number INTEGER) STRICT");
  });
  after(() => db.close());

  it("round-trips text SQLite can hold: emoji, every plane, quotes, SQL, 5 MB", async () => {
    const texts = [
      "🎉👩‍👩‍👧 ¶ 한글",
      "' OR '1'='1'; DROP TABLE t; --",
      "\u0001\u007f\uffff\u{10ffff}",
      "x🎉".repeat(1_700_000),
    ];
    for (const text of texts) {
      const { insertId } = await db.run<{ insertId: number }>("INSERT INTO t (text) VALUES (?)", [text]);
      const [row] = await db.run<{ text: string }[]>("SELECT text FROM t WHERE id = ?", [insertId]);
      assert.ok(row.text === text, `round-trip of ${text.slice(0, 20)}… (${text.length} chars)`);
    }
    const bytes = new Uint8Array([0, 1, 255, 0]);
    const { insertId } = await db.run<{ insertId: number }>("INSERT INTO t (blob) VALUES (?)", [bytes]);
    const [row] = await db.run<{ blob: Uint8Array }[]>("SELECT blob FROM t WHERE id = ?", [insertId]);
    assert.deepEqual([...row.blob], [...bytes]);
  });

  it("refuses what it cannot store faithfully with a clear error, and goes on working", async () => {
    const refused: [unknown, RegExp][] = [
      ["a\0b", /parameter 1: text with a NUL character/],
      [undefined, /parameter 1: cannot store a value of type undefined/],
      [true, /parameter 1: cannot store a value of type boolean/],
      [NaN, /parameter 1: NaN is not a number/],
      [Infinity, /parameter 1: Infinity is not a number/],
      [{ toString: () => "1" }, /parameter 1: cannot store a value of type Object/],
      [new Date(0), /parameter 1: cannot store a value of type Date/],
      [[1, 2], /parameter 1: cannot store a value of type Array/],
      [Symbol("s"), /parameter 1: cannot store a value of type symbol/],
      [() => 1, /parameter 1: cannot store a value of type function/],
    ];
    for (const [value, message] of refused) {
      const error = await db.run("INSERT INTO t (text) VALUES (?)", [value]).catch((error: unknown) => error);
      const failure = failureOf(error);
      assert.equal(failure.kind, "unbindable", String(value));
      assert.match(failure.message, message);
    }
    for (
      const [sql, value] of [["INSERT INTO t (number) VALUES (?)", 2n ** 70n], [
        "INSERT INTO t (number) VALUES (?)",
        "abc",
      ]]
    ) {
      const failure = failureOf(await db.run(sql as string, [value]).catch((error: unknown) => error));
      assert.equal(failure.kind, "other");
      assert.ok(failure.message.length > 0);
    }
    assert.equal(failureOf(await db.run("SELECT nope FROM t").catch((error: unknown) => error)).kind, "other");
    const [{ rows }] = await db.run<{ rows: number }[]>("SELECT count(*) AS rows FROM t WHERE text LIKE 'a%'");
    assert.equal(rows, 0, "nothing refused was written");
    await db.run("INSERT INTO t (text) VALUES (?)", ["after"]);
  });

  it("tells a unique violation from other failures", async () => {
    await db.run("CREATE TABLE u (name TEXT UNIQUE)");
    await db.run("INSERT INTO u (name) VALUES (?)", ["once"]);
    const failure = failureOf(
      await db.run("INSERT INTO u (name) VALUES (?)", ["once"]).catch((error: unknown) => error),
    );
    assert.equal(failure.kind, "unique");
    assert.ok(failure.cause, "the driver's own error is kept");
  });
});

// Root writes through file modes; an immutable directory (chattr +i, Linux) stops root too.
const asRoot = process.getuid?.() === 0;
const readOnlySkip = asRoot && spawnSync("chattr", ["-V"]).error !== undefined
  ? "running as root without chattr: no directory is read-only to this process"
  : false;

describe("SQLite data directory", () => {
  let base = "";
  before(() => {
    base = mkdtempSync(join(tmpdir(), "pilcrow-datadir-"));
  });
  after(() => {
    spawnSync("chattr", ["-i", join(base, "read-only")]);
    rmSync(base, { recursive: true, force: true });
  });

  it("creates a missing data directory, nested", async () => {
    const db = await openSqliteDatabase(join(base, "a", "b"), "goods");
    await db.run("CREATE TABLE t (id INTEGER PRIMARY KEY)");
    await db.close();
  });

  it("refuses a path that is a file, or lies under one, with an error that names it", async () => {
    const file = join(base, "a-file");
    writeFileSync(file, "not a directory");
    for (const dataDir of [file, join(file, "sub")]) {
      await assert.rejects(
        openSqliteDatabase(dataDir, "goods"),
        (error: Error) => {
          assert.match(error.message, /^data directory .*a-file.* cannot be used: it is \(or lies under\) a file/);
          return true;
        },
      );
    }
  });

  it("refuses a directory it may not write in, with an error that names it", { skip: readOnlySkip }, async () => {
    const readOnly = join(base, "read-only");
    mkdirSync(readOnly);
    chmodSync(readOnly, 0o555);
    if (asRoot) assert.equal(spawnSync("chattr", ["+i", readOnly]).status, 0, "chattr +i");
    await assert.rejects(openSqliteDatabase(readOnly, "goods"), (error: Error) => {
      assert.match(error.message, /^data directory .*read-only cannot be used: this process may not write there/);
      return true;
    });
  });
});
