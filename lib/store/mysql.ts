/**
 * MySQL on the mysql2/promise pool (the unjs db0 `mysql2` connector is the model: one pool, placeholders
 * everywhere, `close` ends it). It is a SqlDatabase, as SQLite is (lib/store/sqlite.ts): each service's one
 * store prepares its tables on it and runs its statements (services/goods/store.ts…), keeping the book's tables
 * and columns (docs/protocol.md §5), so a database made for the original still fits. Every operation has a
 * deadline: while the database is away, requests fail fast with a short error instead of hanging, and the pool
 * reconnects when it is back.
 */
import mysql, { type Pool, type RowDataPacket } from "mysql2/promise";
import type { Logger } from "../log.ts";
import { traceStatement } from "../trace/spans.ts";
import { StoreError } from "./contract.ts";
import { IDEMPOTENCY_TABLE_SPEC, ledgerOn, memoisedMysqlWrite, memoisingScope } from "./idempotency.ts";
import type { OpenedStore } from "./open.ts";
import { type SqlDatabase, type SqlTable, type TableSpec, UnstorableTextError } from "./sql.ts";

export interface MysqlOptions {
  /** Connections in the pool (MYSQL_POOL_SIZE, default 10). */
  poolSize?: number;
  /** Deadline of one operation, waiting for a connection included (default 2000 ms). */
  operationTimeoutMs?: number;
}

/** What a URL may say about where it points, without its password, for logs and errors. */
export function describeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `mysql://${
      parsed.username ? `${decodeURIComponent(parsed.username)}@` : ""
    }${parsed.host}${parsed.pathname}`;
  } catch {
    return "an unparsable MYSQL_URL";
  }
}

/** The book's `utf8`: three bytes at most per character, so no emoji. MySQL 5.7 names it utf8, MariaDB utf8mb3. */
const NARROW_CHARSETS = new Set(["utf8", "utf8mb3"]);
/** What utf8mb3 cannot hold: code points beyond U+FFFF, four bytes in UTF-8. */
const FOUR_BYTE_UTF8 = /[\u{10000}-\u{10FFFF}]/u;

interface TableCharsets {
  columns: Set<string>;
  /** The table's default charset, or a column's, is utf8mb3. */
  narrow: boolean;
  /** Columns that cannot hold 4-byte UTF-8. */
  narrowColumns: Set<string>;
}

/** MySQL's error for a statement that broke a unique key (ER_DUP_ENTRY). */
const DUPLICATE_ENTRY = 1062;

class Database implements SqlDatabase {
  readonly dialect = "mysql";

  constructor(readonly pool: Pool, private readonly timeoutMs: number, private readonly log: Logger) {}

  /**
   * Runs one statement with placeholders within the deadline; any failure becomes a StoreError with the
   * driver's error as cause. A statement whose deadline passes before it got a connection never runs
   * (a client told "Database Error" must not find the write done later); one that was sent and got no
   * answer costs its connection, which is destroyed rather than handed to the next statement.
   */
  run<T>(sql: string, values: unknown[] = []): Promise<T> {
    return traceStatement("mysql", sql, () => this.#run<T>(sql, values));
  }

  async #run<T>(sql: string, values: unknown[]): Promise<T> {
    const deadline = Date.now() + this.timeoutMs;
    // A write of a request with an Idempotency-Key: run once per key, with its result kept in one transaction.
    const scope = memoisingScope(sql);
    const index = scope ? scope.writes++ : 0;
    try {
      const connection = await this.#withDeadline(this.pool.getConnection(), deadline, (late) => late.release());
      try {
        const [result] = await this.#withDeadline(
          scope ? memoisedMysqlWrite(connection, scope, index, sql, values) : connection.query({ sql, values }),
          deadline,
          undefined,
          () => connection.destroy(),
        );
        connection.release();
        return result as T;
      } catch (error) {
        // A connection that failed mid-statement may be in any state: do not reuse it.
        connection.destroy();
        throw error;
      }
    } catch (error) {
      const errno = (error as { errno?: unknown } | undefined)?.errno;
      throw new StoreError(error, errno === DUPLICATE_ENTRY ? "duplicate" : "failure");
    }
  }

  async prepareTable(table: TableSpec): Promise<SqlTable> {
    await this.run(table.create.mysql);
    let charsets = await this.#charsets(table.name);
    const missing = table.columns.filter((column) => !charsets.columns.has(column));
    if (missing.length > 0) {
      throw new Error(
        `table ${table.name} exists but lacks the column(s) ${missing.join(", ")}; `
          + `Pilcrow needs ${table.name}(${table.columns.join(", ")}) as in the book (docs/protocol.md §5)`,
      );
    }
    if (charsets.narrow) {
      const columns = [...charsets.narrowColumns];
      this.log.warn(
        "store",
        `table ${table.name} is utf8mb3 (the book's utf8)${
          columns.length === 0 ? "" : `: its column(s) ${columns.join(", ")} cannot hold emoji`
        }, and text that needs utf8mb4 is refused; convert it with`,
        `ALTER TABLE ${table.name} CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`,
      );
    }
    const unstorable = async (values: Record<string, string>) => {
      const suspects = Object.keys(values).filter((column) =>
        charsets.narrowColumns.has(column) && FOUR_BYTE_UTF8.test(values[column])
      );
      if (suspects.length === 0) return undefined;
      charsets = await this.#charsets(table.name);
      return suspects.find((column) => charsets.narrowColumns.has(column));
    };
    return {
      unstorable,
      async assertStorable(values) {
        const column = await unstorable(values);
        if (column !== undefined) throw new UnstorableTextError(table.name, column);
      },
    };
  }

  /** The table's columns, and which of them (or whether the table itself) are utf8mb3, as the server says now. */
  async #charsets(name: string): Promise<TableCharsets> {
    const rows = await this.run<RowDataPacket[]>(
      `SELECT c.COLUMN_NAME AS name, c.CHARACTER_SET_NAME AS charset, t.TABLE_COLLATION AS tableCollation
        FROM information_schema.COLUMNS c JOIN information_schema.TABLES t
          ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME
        WHERE c.TABLE_SCHEMA = DATABASE() AND c.TABLE_NAME = ?`,
      [name],
    );
    const columns = new Set(rows.map((row) => String(row.name).toLowerCase()));
    const narrowColumns = new Set(
      rows.filter((row) => NARROW_CHARSETS.has(String(row.charset))).map((row) => String(row.name).toLowerCase()),
    );
    // A collation is named after its charset: utf8mb3_general_ci, or utf8_general_ci on MySQL 5.7.
    const tableCharset = rows.length === 0 ? "" : String(rows[0].tableCollation).split("_")[0];
    return { columns, narrowColumns, narrow: narrowColumns.size > 0 || NARROW_CHARSETS.has(tableCharset) };
  }

  /** Rejects at the deadline; `onLate` receives a value that arrives afterwards, `onTimeout` runs at the deadline. */
  #withDeadline<V>(
    work: Promise<V>,
    deadline: number,
    onLate?: (value: V) => void,
    onTimeout?: () => void,
  ): Promise<V> {
    return new Promise<V>((resolve, reject) => {
      let expired = false;
      const timer = setTimeout(() => {
        expired = true;
        onTimeout?.();
        reject(new Error(`no answer within ${this.timeoutMs} ms`));
      }, Math.max(0, deadline - Date.now()));
      work.then(
        (value) => {
          clearTimeout(timer);
          if (expired) onLate?.(value);
          else resolve(value);
        },
        (error) => {
          clearTimeout(timer);
          if (!expired) reject(error);
        },
      );
    });
  }

  /** Ends the pool; connections stuck on a hung server are not waited for past the deadline. */
  async close(): Promise<void> {
    await this.#withDeadline(this.pool.end(), Date.now() + this.timeoutMs).catch(() => {});
  }
}

/** The time zone DATETIME values are kept in: the session's, which is the server's unless set otherwise. */
async function serverTimeZone(db: Database): Promise<string> {
  const [row] = await db.run<RowDataPacket[]>("SELECT @@session.time_zone AS zone, @@system_time_zone AS host");
  return row.zone === "SYSTEM" ? `SYSTEM: ${row.host}` : String(row.zone);
}

/**
 * Connects and lets `open` prepare the service's tables and build its store on the database. A failure to
 * reach the server or to prepare a table is one clear message, without the URL's password.
 */
export async function openMysql<S>(
  url: string,
  log: Logger,
  open: (db: SqlDatabase) => Promise<S>,
  options: MysqlOptions = {},
): Promise<OpenedStore<S>> {
  const timeoutMs = options.operationTimeoutMs ?? 2000;
  const poolSize = options.poolSize ?? 10;
  const pool = mysql.createPool({
    uri: url,
    connectionLimit: poolSize,
    connectTimeout: timeoutMs,
    // A flood while the database is away fails at once instead of queueing without bound.
    queueLimit: 1000,
    // Stores convert DATETIME in SQL (FROM_UNIXTIME, UNIX_TIMESTAMP: in the session's time zone, as the book's
    // CURRENT_TIMESTAMP is); a Date passed or read as such is taken as UTC, whatever this process's TZ.
    timezone: "Z",
    dateStrings: false,
    enableKeepAlive: true,
    charset: "utf8mb4",
  });
  // A pool emits errors of idle connections (the server went away); they are handled at the next query.
  pool.on("connection", (connection) => connection.on("error", (error) => log.debug("mysql connection", error.code)));
  const db = new Database(pool, timeoutMs, log);
  let store: S;
  let zone: string;
  try {
    await db.prepareTable(IDEMPOTENCY_TABLE_SPEC);
    store = await open(db);
    zone = await serverTimeZone(db);
  } catch (error) {
    await db.close();
    const detail = error instanceof StoreError ? (error.cause as Error)?.message : (error as Error).message;
    throw new Error(`MySQL at ${describeUrl(url)}: ${detail}`);
  }
  return {
    store,
    description: `MySQL at ${describeUrl(url)}, pool of ${poolSize}, dates kept in its time zone (${zone})`,
    idempotency: ledgerOn((sql, values) => db.run(sql, values)),
    close: () => db.close(),
  };
}
