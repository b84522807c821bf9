/**
 * The MySQL store, on the mysql2/promise pool (the unjs db0 `mysql2` connector is the model: one pool,
 * placeholders everywhere, `close` ends it). It keeps the book's tables and columns (SPEC §5), so a
 * database made for the original still fits. Every operation has a deadline: while the database is away,
 * requests fail fast with a short error instead of hanging, and the pool reconnects when it is back.
 */
import mysql, { type Pool, type RowDataPacket } from "mysql2/promise";
import type { Logger } from "../log.ts";
import {
  type Goods,
  type GoodsStore,
  type Member,
  type MembersStore,
  nowToTheSecond,
  type Page,
  type Purchase,
  type PurchasesStore,
  type Store,
  StoreError,
  type TableName,
} from "./contract.ts";

export interface MysqlOptions {
  /** Connections in the pool (MYSQL_POOL_SIZE, default 10). */
  poolSize?: number;
  /** Deadline of one operation, waiting for a connection included (default 2000 ms). */
  operationTimeoutMs?: number;
}

const TABLES: Record<TableName, { create: string; columns: string[] }> = {
  goods: {
    create: `CREATE TABLE IF NOT EXISTS goods (
      id int NOT NULL AUTO_INCREMENT PRIMARY KEY,
      name varchar(128) NOT NULL,
      category varchar(128) NOT NULL,
      price int NOT NULL,
      description text NOT NULL
    ) DEFAULT CHARSET = utf8mb4`,
    columns: ["id", "name", "category", "price", "description"],
  },
  members: {
    create: `CREATE TABLE IF NOT EXISTS members (
      id int NOT NULL AUTO_INCREMENT PRIMARY KEY,
      username varchar(128) NOT NULL UNIQUE,
      password varchar(256) NOT NULL
    ) DEFAULT CHARSET = utf8mb4`,
    columns: ["id", "username", "password"],
  },
  purchases: {
    create: `CREATE TABLE IF NOT EXISTS purchases (
      id int NOT NULL AUTO_INCREMENT PRIMARY KEY,
      userid int NOT NULL,
      goodsid int NOT NULL,
      date datetime NOT NULL DEFAULT CURRENT_TIMESTAMP
    ) DEFAULT CHARSET = utf8mb4`,
    columns: ["id", "userid", "goodsid", "date"],
  },
};

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

class Database {
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

async function prepareTable(db: Database, table: TableName): Promise<void> {
  await db.run(TABLES[table].create);
  const rows = await db.run<RowDataPacket[]>(
    "SELECT COLUMN_NAME AS name FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
    [table],
  );
  const present = new Set(rows.map((row) => String(row.name).toLowerCase()));
  const missing = TABLES[table].columns.filter((column) => !present.has(column));
  if (missing.length > 0) {
    throw new Error(
      `table ${table} exists but lacks the column(s) ${missing.join(", ")}; `
        + `Pilcrow needs ${table}(${TABLES[table].columns.join(", ")}) as in the book (SPEC §5)`,
    );
  }
}

/**
 * The end of a list's SELECT: its conditions, `id > ?` for a page that starts after an id, id order, and the
 * page's LIMIT — with the placeholders' values in order.
 */
function inIdOrder(conditions: string[], values: unknown[], page: Page = {}): { tail: string; values: unknown[] } {
  const where = [...conditions];
  const all = [...values];
  if (page.after !== undefined) {
    where.push("id > ?");
    all.push(page.after);
  }
  let tail = `${where.length === 0 ? "" : ` WHERE ${where.join(" AND ")}`} ORDER BY id`;
  if (page.limit !== undefined) {
    tail += " LIMIT ?";
    all.push(page.limit);
  }
  return { tail, values: all };
}

function goodsStore(db: Database): GoodsStore {
  return {
    async add({ name, category, price, description }) {
      const result = await db.run<{ insertId: number }>(
        "INSERT INTO goods (name, category, price, description) VALUES (?, ?, ?, ?)",
        [name, category, price, description],
      );
      return result.insertId;
    },
    async list(page) {
      const { tail, values } = inIdOrder([], [], page);
      const rows = await db.run<RowDataPacket[]>(
        `SELECT id, name, category, price, description FROM goods${tail}`,
        values,
      );
      return rows.map((row) => ({ ...row }) as Goods);
    },
    async remove(id) {
      await db.run("DELETE FROM goods WHERE id = ?", [id]);
    },
  };
}

const DUPLICATE_ENTRY = 1062;

function membersStore(db: Database): MembersStore {
  return {
    async add(username, passwordHash) {
      try {
        const result = await db.run<{ insertId: number }>(
          "INSERT INTO members (username, password) VALUES (?, ?)",
          [username, passwordHash],
        );
        return result.insertId;
      } catch (error) {
        if (
          (error as StoreError).cause && ((error as StoreError).cause as { errno?: number }).errno === DUPLICATE_ENTRY
        ) {
          return undefined;
        }
        throw error;
      }
    },
    async find(username) {
      const rows = await db.run<RowDataPacket[]>("SELECT id, username, password FROM members WHERE username = ?", [
        username,
      ]);
      return rows.length === 0 ? undefined : ({ ...rows[0] } as Member);
    },
    async remove(username) {
      await db.run("DELETE FROM members WHERE username = ?", [username]);
    },
  };
}

function purchasesStore(db: Database): PurchasesStore {
  return {
    async add(userid, goodsid) {
      // The date is written from this process's clock in UTC, not the server's CURRENT_TIMESTAMP, so it
      // means the same instant whatever time zone the server or this process is set to.
      const result = await db.run<{ insertId: number }>(
        "INSERT INTO purchases (userid, goodsid, date) VALUES (?, ?, ?)",
        [userid, goodsid, nowToTheSecond()],
      );
      return result.insertId;
    },
    async listByUser(userid, page) {
      const { tail, values } = inIdOrder(["userid = ?"], [userid], page);
      const rows = await db.run<RowDataPacket[]>(`SELECT id, userid, goodsid, date FROM purchases${tail}`, values);
      return rows.map((row) => ({ ...row }) as Purchase);
    },
  };
}

/** Connects, prepares the tables the caller names (creating missing ones, checking existing ones). */
export async function mysqlStore(
  url: string,
  tables: TableName[],
  log: Logger,
  options: MysqlOptions = {},
): Promise<Store> {
  const timeoutMs = options.operationTimeoutMs ?? 2000;
  const pool = mysql.createPool({
    uri: url,
    connectionLimit: options.poolSize ?? 10,
    connectTimeout: timeoutMs,
    // A flood while the database is away fails at once instead of queueing without bound.
    queueLimit: 1000,
    // DATETIME values are read and written as UTC: with the explicit dates above, ISO output is exact.
    timezone: "Z",
    dateStrings: false,
    enableKeepAlive: true,
    charset: "utf8mb4",
  });
  // A pool emits errors of idle connections (the server went away); they are handled at the next query.
  pool.on("connection", (connection) => connection.on("error", (error) => log.debug("mysql connection", error.code)));
  const db = new Database(pool, timeoutMs);
  try {
    for (const table of tables) await prepareTable(db, table);
  } catch (error) {
    await db.close();
    const detail = error instanceof StoreError ? (error.cause as Error)?.message : (error as Error).message;
    throw new Error(`MySQL at ${describeUrl(url)}: ${detail}`);
  }
  return {
    description: `MySQL at ${describeUrl(url)}, pool of ${options.poolSize ?? 10}`,
    goods: goodsStore(db),
    members: membersStore(db),
    purchases: purchasesStore(db),
    close: () => db.close(),
  };
}
