/**
 * SQLite, one small synchronous interface on every runtime: Bun and Deno ship `node:sqlite` (sqlite-builtin.ts);
 * Node 20 does not, and uses better-sqlite3 (sqlite-better.ts). Each is imported only on its own runtime, so Bun
 * and Deno never load the native addon and Node never asks for a module it lacks. The two drivers differ in
 * small ways that this file evens out, once: what a value may be bound (undefined, booleans, NaN, text with a NUL
 * are refused alike, where one driver binds them and another does not, or cuts the text), what a row is (a plain
 * object), and how a failure says what it is (SqliteFailure.kind).
 */
import { runtimeName } from "./detect.ts";

/** What SQLite stores and gives back: INTEGER/REAL as number (or bigint to bind), TEXT, BLOB, NULL. */
export type SqliteValue = null | number | bigint | string | Uint8Array;
export type SqliteRow = Record<string, SqliteValue>;

export interface SqliteChanges {
  /** Rows the statement inserted, updated or deleted. */
  changes: number;
  /** The rowid of the last row inserted on this connection. */
  lastInsertRowid: number;
}

/** One open database file (or `:memory:`). Every call runs at once, on this thread; none is asynchronous. */
export interface SqliteConnection {
  /** Runs statements without parameters (PRAGMAs, CREATE TABLE…). */
  exec(sql: string): void;
  /** Runs one statement that returns no rows. */
  run(sql: string, params?: readonly unknown[]): SqliteChanges;
  /** Runs one query and returns all its rows. */
  all(sql: string, params?: readonly unknown[]): SqliteRow[];
  /** Runs one query and returns its first row. */
  get(sql: string, params?: readonly unknown[]): SqliteRow | undefined;
  close(): void;
}

/**
 * Why a statement failed: `busy` (another connection holds the lock past the busy timeout: worth trying again),
 * `unique` (a UNIQUE or PRIMARY KEY constraint), `unbindable` (a parameter SQLite cannot hold, refused before
 * running), or `other`.
 */
export type SqliteFailureKind = "busy" | "unique" | "unbindable" | "other";

export class SqliteFailure extends Error {
  override name = "SqliteFailure";
  constructor(readonly kind: SqliteFailureKind, message: string, cause?: unknown) {
    super(message, { cause });
  }
}

/** What each driver file provides: its Database and Statement have the same shape in both. */
export interface SqliteDriver {
  open(path: string): DriverDatabase;
  /**
   * The column names of a statement that returns rows, to read them as arrays; undefined when it returns none, or
   * where this driver makes its objects faster than JavaScript does (see Connection#prepared).
   */
  arrayColumns(statement: DriverStatement): string[] | undefined;
  /** Switches a statement to giving its rows as arrays, in the order of `arrayColumns`. */
  returnArrays(statement: DriverStatement): void;
}

export interface DriverDatabase {
  exec(sql: string): void;
  prepare(sql: string): DriverStatement;
  close(): void;
}

/** A row as the driver gives it: an object by column name, or the values in column order (`returnArrays`). */
export type DriverRow = Record<string, SqliteValue> | SqliteValue[];

export interface DriverStatement {
  run(...params: SqliteValue[]): { changes: number | bigint; lastInsertRowid: number | bigint };
  all(...params: SqliteValue[]): DriverRow[];
  get(...params: SqliteValue[]): DriverRow | undefined;
}

let driver: Promise<SqliteDriver> | undefined;

function loadDriver(): Promise<SqliteDriver> {
  driver ??= runtimeName === "node"
    ? import("./sqlite-better.ts").then((module) => module.betterSqliteDriver())
    : import("./sqlite-builtin.ts").then((module) => module.builtinSqliteDriver());
  return driver;
}

/** Opens (creating if needed) the database at `path`, or a private one in memory for `:memory:`. */
export async function openSqlite(path: string): Promise<SqliteConnection> {
  const loaded = await loadDriver();
  return new Connection(loaded, guard(() => loaded.open(path)));
}

/** Prepared statements are kept per SQL text: the stores run a handful of statements, over and over. */
const STATEMENT_CACHE_LIMIT = 100;

/** A statement, and its column names when its rows come as arrays. */
interface Prepared {
  statement: DriverStatement;
  columns: string[] | undefined;
}

class Connection implements SqliteConnection {
  #statements = new Map<string, Prepared>();

  constructor(private readonly driver: SqliteDriver, private readonly database: DriverDatabase) {}

  exec(sql: string): void {
    guard(() => this.database.exec(sql));
  }

  run(sql: string, params: readonly unknown[] = []): SqliteChanges {
    const values = bindable(params);
    const result = guard(() => this.#prepared(sql).statement.run(...values));
    return { changes: Number(result.changes), lastInsertRowid: Number(result.lastInsertRowid) };
  }

  all(sql: string, params: readonly unknown[] = []): SqliteRow[] {
    const values = bindable(params);
    const { statement, columns } = guard(() => this.#prepared(sql));
    const rows = guard(() => statement.all(...values));
    return rows.map((row) => plainRow(row, columns));
  }

  get(sql: string, params: readonly unknown[] = []): SqliteRow | undefined {
    const values = bindable(params);
    const { statement, columns } = guard(() => this.#prepared(sql));
    const row = guard(() => statement.get(...values));
    return row === undefined ? undefined : plainRow(row, columns);
  }

  close(): void {
    this.#statements.clear();
    guard(() => this.database.close());
  }

  /**
   * The statement of `sql`, prepared once. Its rows are read as arrays and made objects here when the driver
   * allows, because that is faster than the drivers' own objects: 10 rows of 5 columns took 22 → 15 µs on Node
   * (better-sqlite3) and 23 → 9 µs on Deno (node:sqlite's null-prototype objects, copied to plain ones) — a tenth
   * to a fifth of goods' CPU per GET. The names are kept from the first read, and SQLite prepares a statement again
   * after a schema change, so not for SQL with a `*`, whose columns come from the table: an added or renamed column
   * would be missed or read under its old name. A statement that names its columns keeps them, or fails once a
   * column it names is renamed (only a rename that changes nothing but case would keep the old spelling here until
   * the statement is prepared again). Nor for a column named `__proto__`, which an assignment cannot create.
   */
  #prepared(sql: string): Prepared {
    let prepared = this.#statements.get(sql);
    if (!prepared) {
      const statement = this.database.prepare(sql);
      let columns = sql.includes("*") ? undefined : this.driver.arrayColumns(statement);
      if (columns?.length === 0 || columns?.includes("__proto__")) columns = undefined;
      if (columns !== undefined) this.driver.returnArrays(statement);
      prepared = { statement, columns };
      if (this.#statements.size >= STATEMENT_CACHE_LIMIT) this.#statements.clear();
      this.#statements.set(sql, prepared);
    }
    return prepared;
  }
}

/** A row as a plain object (node:sqlite's objects have a null prototype; callers get what better-sqlite3 gives). */
function plainRow(row: DriverRow, columns: string[] | undefined): SqliteRow {
  if (columns === undefined) return { ...row as Record<string, SqliteValue> };
  const values = row as SqliteValue[];
  const object: SqliteRow = {};
  for (let index = 0; index < columns.length; index++) object[columns[index]] = values[index];
  return object;
}

/**
 * The parameters as SQLite values, or an `unbindable` failure naming the first that is not one. Checked here
 * because the drivers disagree: better-sqlite3 binds undefined as NULL where node:sqlite refuses it, both turn
 * NaN into NULL, and Deno's node:sqlite cuts text at its first NUL character without a word.
 */
function bindable(params: readonly unknown[]): SqliteValue[] {
  return params.map((value, index) => {
    const position = `parameter ${index + 1}`;
    switch (typeof value) {
      case "string":
        if (value.includes("\0")) throw new SqliteFailure("unbindable", `${position}: text with a NUL character`);
        return value;
      case "number":
        if (!Number.isFinite(value)) throw new SqliteFailure("unbindable", `${position}: ${value} is not a number`);
        return value;
      case "bigint":
        return value;
      case "object":
        if (value === null || value instanceof Uint8Array) return value;
    }
    const kind = typeof value === "object" ? value?.constructor?.name ?? "Object" : typeof value;
    throw new SqliteFailure("unbindable", `${position}: cannot store a value of type ${kind}`);
  });
}

/** Runs one driver call; a failure becomes a SqliteFailure whose kind is read from either driver's error. */
function guard<T>(call: () => T): T {
  try {
    return call();
  } catch (error) {
    if (error instanceof SqliteFailure) throw error;
    throw new SqliteFailure(failureKind(error), (error as Error)?.message ?? String(error), error);
  }
}

// SQLite's result codes (https://sqlite.org/rescode.html): the primary code is the low byte of an extended one.
const SQLITE_BUSY = 5;
const SQLITE_CONSTRAINT_PRIMARYKEY = 1555;
const SQLITE_CONSTRAINT_UNIQUE = 2067;

/**
 * better-sqlite3 names the extended code (`code: "SQLITE_BUSY_SNAPSHOT"`); node:sqlite gives its number
 * (`errcode: 517`) under `code: "ERR_SQLITE_ERROR"`. Both are read here and nowhere else.
 */
function failureKind(error: unknown): SqliteFailureKind {
  const { code, errcode } = (error ?? {}) as { code?: unknown; errcode?: unknown };
  if (typeof errcode === "number") {
    if ((errcode & 0xff) === SQLITE_BUSY) return "busy";
    if (errcode === SQLITE_CONSTRAINT_UNIQUE || errcode === SQLITE_CONSTRAINT_PRIMARYKEY) return "unique";
    return "other";
  }
  if (typeof code === "string") {
    if (code === "SQLITE_BUSY" || code.startsWith("SQLITE_BUSY_")) return "busy";
    if (code === "SQLITE_CONSTRAINT_UNIQUE" || code === "SQLITE_CONSTRAINT_PRIMARYKEY") return "unique";
  }
  return "other";
}
