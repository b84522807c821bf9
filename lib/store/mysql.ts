/**
 * MySQL on the mysql2/promise pool (the unjs db0 `mysql2` connector is the model: one pool, placeholders
 * everywhere, `close` ends it). Each service prepares its own tables on it and writes its own statements
 * (services/goods/store.ts…), keeping the book's tables and columns (docs/protocol.md §5), so a database made
 * for the original still fits. Every operation has a deadline: while the database is away, requests fail fast
 * with a short error instead of hanging, and the pool reconnects when it is back.
 */
import mysql, { type Pool, type RowDataPacket } from "mysql2/promise";
import type { Logger } from "../log.ts";
import { StoreError } from "./contract.ts";
import type { OpenedStore } from "./open.ts";
import type { MysqlDatabase, TableSpec } from "./sql.ts";

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

class Database implements MysqlDatabase {
  constructor(readonly pool: Pool, private readonly timeoutMs: number) {}

  /**
   * Runs one statement with placeholders within the deadline; any failure becomes a StoreError with the
   * driver's error as cause. A statement whose deadline passes before it got a connection never runs
   * (a client told "Database Error" must not find the write done later); one that was sent and got no
   * answer costs its connection, which is destroyed rather than handed to the next statement.
   */
  async run<T>(sql: string, values: unknown[] = []): Promise<T> {
    const deadline = Date.now() + this.timeoutMs;
    try {
      const connection = await this.#withDeadline(this.pool.getConnection(), deadline, (late) => late.release());
      try {
        const [result] = await this.#withDeadline(
          connection.query({ sql, values }),
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
      throw new StoreError(error);
    }
  }

  async prepareTable(table: TableSpec): Promise<void> {
    await this.run(table.create);
    const rows = await this.run<RowDataPacket[]>(
      "SELECT COLUMN_NAME AS name FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
      [table.name],
    );
    const present = new Set(rows.map((row) => String(row.name).toLowerCase()));
    const missing = table.columns.filter((column) => !present.has(column));
    if (missing.length > 0) {
      throw new Error(
        `table ${table.name} exists but lacks the column(s) ${missing.join(", ")}; `
          + `Pilcrow needs ${table.name}(${table.columns.join(", ")}) as in the book (docs/protocol.md §5)`,
      );
    }
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

/**
 * Connects and lets `open` prepare the service's tables and build its store on the database. A failure to
 * reach the server or to prepare a table is one clear message, without the URL's password.
 */
export async function openMysql<S>(
  url: string,
  log: Logger,
  open: (db: MysqlDatabase) => Promise<S>,
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
    // DATETIME values are read and written as UTC: with explicit dates, ISO output is exact.
    timezone: "Z",
    dateStrings: false,
    enableKeepAlive: true,
    charset: "utf8mb4",
  });
  // A pool emits errors of idle connections (the server went away); they are handled at the next query.
  pool.on("connection", (connection) => connection.on("error", (error) => log.debug("mysql connection", error.code)));
  const db = new Database(pool, timeoutMs);
  let store: S;
  try {
    store = await open(db);
  } catch (error) {
    await db.close();
    const detail = error instanceof StoreError ? (error.cause as Error)?.message : (error as Error).message;
    throw new Error(`MySQL at ${describeUrl(url)}: ${detail}`);
  }
  return { store, description: `MySQL at ${describeUrl(url)}, pool of ${poolSize}`, close: () => db.close() };
}
