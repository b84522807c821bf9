/**
 * The embedded store on SQLite: one database file per service, `<data dir>/<service>.sqlite`, which every
 * instance of that service on the machine opens at once, and which outlives them all; or `:memory:`, private to
 * one process, for tests. It is a SqlDatabase, as MySQL is (lib/store/mysql.ts): each service's one store
 * prepares its tables on it and runs its statements (services/goods/store.ts…), and answers alike on both (one
 * contract suite, tests/store-contract.test.ts).
 *
 * Settings, and why:
 * - WAL: readers never wait for the writer, and several processes share the file safely (same machine only:
 *   WAL needs shared memory, so not a network file system).
 * - synchronous=FULL: in WAL mode, NORMAL survives a crashed process but may lose the last commits to a power
 *   cut or an OS crash; FULL syncs the log at every commit, so a write answered as done is on disk. It costs
 *   one fsync per write.
 * - busy_timeout 500 ms, then up to BUSY_ATTEMPTS tries with short pauses in between: a write waits for
 *   another instance's write instead of failing. The timeout blocks this thread (the drivers are synchronous),
 *   so it is kept short and the pauses between tries are asynchronous; all tries together stay near MySQL's
 *   2 s deadline for one operation.
 * - foreign_keys on, as MySQL has them (the book's tables declare none yet).
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { IN_MEMORY } from "../config.ts";
import { openSqlite, type SqliteConnection, SqliteFailure } from "../runtime/sqlite.ts";
import { traceStatement } from "../trace/spans.ts";
import { StoreError } from "./contract.ts";
import { IDEMPOTENCY_TABLE_SPEC, ledgerOn, memoisedSqliteWrite, memoisingScope } from "./idempotency.ts";
import type { OpenedStore } from "./open.ts";
import type { SqlDatabase, SqlTable, TableSpec } from "./sql.ts";

/** The data directory's stand-in for a private database in memory, lost when the process stops (tests). */
export { IN_MEMORY };

/**
 * `run`: a query (SELECT, WITH, PRAGMA, or any statement with RETURNING) gives its rows; any other statement
 * `{ insertId, affectedRows }`, as mysql2 does. Any failure is a StoreError whose cause is the SqliteFailure
 * (its `kind`, and the driver's own error as its cause), of kind `duplicate` for a UNIQUE or PRIMARY KEY broken.
 */
export interface SqliteDatabase extends SqlDatabase {
  readonly dialect: "sqlite";
  close(): Promise<void>;
}

/** SQLite stores any valid UTF-8 (the driver refuses the rest before running): every text is storable. */
const ANY_TEXT: SqlTable = {
  unstorable: () => Promise.resolve(undefined),
  assertStorable: () => Promise.resolve(),
};

const BUSY_TIMEOUT_MS = 500;
const BUSY_ATTEMPTS = 4;
const BUSY_PAUSE_MS = 25;

const RETURNS_ROWS = /^\s*(SELECT|WITH|PRAGMA|VALUES|EXPLAIN)\b|\bRETURNING\b/i;

class Database implements SqliteDatabase {
  readonly dialect = "sqlite";

  constructor(private readonly connection: SqliteConnection) {}

  run<T>(sql: string, values: readonly unknown[] = []): Promise<T> {
    return traceStatement("sqlite", sql, () => this.#run<T>(sql, values));
  }

  async #run<T>(sql: string, values: readonly unknown[]): Promise<T> {
    const returnsRows = RETURNS_ROWS.test(sql);
    const execute = () => {
      if (returnsRows) return this.connection.all(sql, values);
      const { changes, lastInsertRowid } = this.connection.run(sql, values);
      return { insertId: lastInsertRowid, affectedRows: changes };
    };
    // A write of a request with an Idempotency-Key: run once per key, with its result kept in one transaction.
    const scope = memoisingScope(sql);
    const index = scope ? scope.writes++ : 0;
    for (let attempt = 1;; attempt++) {
      try {
        return (scope ? memoisedSqliteWrite(this.connection, scope, index, execute) : execute()) as T;
      } catch (error) {
        // Every statement here runs on its own (autocommit), and SQLite rolls back one that found the
        // database busy: it is safe to run it again (https://sqlite.org/c3ref/step.html).
        if (error instanceof SqliteFailure && error.kind === "busy" && attempt < BUSY_ATTEMPTS) {
          await new Promise((resolve) => setTimeout(resolve, BUSY_PAUSE_MS * 2 ** (attempt - 1)));
          continue;
        }
        throw new StoreError(
          error,
          error instanceof SqliteFailure && error.kind === "unique" ? "duplicate" : "failure",
        );
      }
    }
  }

  async prepareTable(table: TableSpec): Promise<SqlTable> {
    await this.run(table.create.sqlite);
    const rows = await this.run<{ name: string }[]>("SELECT name FROM pragma_table_info(?)", [table.name]);
    const present = new Set(rows.map((row) => String(row.name).toLowerCase()));
    const missing = table.columns.filter((column) => !present.has(column));
    if (missing.length > 0) {
      throw new Error(
        `table ${table.name} exists but lacks the column(s) ${missing.join(", ")}; `
          + `Pilcrow needs ${table.name}(${table.columns.join(", ")})`,
      );
    }
    return ANY_TEXT;
  }

  close(): Promise<void> {
    try {
      this.connection.close();
    } catch { /* already closed */ }
    return Promise.resolve();
  }
}

/**
 * The database file of `service` under `dataDir` (created if needed), or a private one in memory when
 * `dataDir` is IN_MEMORY. A directory that cannot be created or written is one clear error naming it.
 */
export async function openSqliteDatabase(dataDir: string, service: string): Promise<SqliteDatabase> {
  const file = dataDir === IN_MEMORY ? IN_MEMORY : join(usableDirectory(dataDir), `${service}.sqlite`);
  let connection: SqliteConnection | undefined;
  try {
    connection = await openSqlite(file);
    connection.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
    const db = new Database(connection);
    // Switching to WAL writes to the file: the first place where an unwritable file or directory shows.
    const [{ journal_mode: mode }] = await db.run<{ journal_mode: string }[]>("PRAGMA journal_mode = WAL");
    if (file !== IN_MEMORY && mode !== "wal") throw new Error(`it stays in journal mode ${mode}, not WAL`);
    connection.exec("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON");
    return db;
  } catch (error) {
    try {
      connection?.close();
    } catch { /* it did not open */ }
    throw new Error(`SQLite database ${file}: ${messageOf(error)}`, { cause: error });
  }
}

/** `dataDir`, created if missing, as an absolute path; it must be a directory this process can write in. */
function usableDirectory(dataDir: string): string {
  const directory = resolve(dataDir);
  try {
    mkdirSync(directory, { recursive: true });
    // Writing a file is the test that holds for root and read-only mounts alike (access(2) does not, and
    // needs an extra permission on Deno); SQLite itself would only say "unable to open database file".
    const probe = join(directory, `.pilcrow-write-test-${process.pid}`);
    writeFileSync(probe, "");
    rmSync(probe);
  } catch (error) {
    const code = (error as { code?: string }).code;
    const why = code === "EEXIST" || code === "ENOTDIR"
      ? "it is (or lies under) a file, not a directory"
      : code === "EACCES" || code === "EPERM" || code === "EROFS"
      ? "this process may not write there"
      : messageOf(error);
    throw new Error(`data directory ${directory} cannot be used: ${why} (${code ?? "error"})`, { cause: error });
  }
  return directory;
}

function messageOf(error: unknown): string {
  const inner = error instanceof StoreError ? error.cause : error;
  return (inner as Error)?.message ?? String(inner);
}

/**
 * Opens the service's database and lets `open` prepare its tables and build its store on it, as openMysql does.
 * A failure to open or to prepare a table is one clear message naming the file.
 */
export async function openSqliteStore<S>(
  dataDir: string,
  service: string,
  open: (db: SqlDatabase) => Promise<S>,
): Promise<OpenedStore<S>> {
  const db = await openSqliteDatabase(dataDir, service);
  const where = dataDir === IN_MEMORY ? "in memory" : join(resolve(dataDir), `${service}.sqlite`);
  let store: S;
  try {
    await db.prepareTable(IDEMPOTENCY_TABLE_SPEC);
    store = await open(db);
  } catch (error) {
    await db.close();
    throw new Error(`SQLite database ${where}: ${messageOf(error)}`, { cause: error });
  }
  return {
    store,
    idempotency: ledgerOn((sql, values) => db.run(sql, values)),
    description: dataDir === IN_MEMORY ? "SQLite in memory (lost when this process stops)" : `SQLite at ${where}`,
    close: () => db.close(),
  };
}
