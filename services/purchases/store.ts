/**
 * Purchases keeps its own table (docs/protocol.md §5): in the service's SQLite file (the embedded store), or the
 * book's `purchases` table on MySQL — one implementation for both.
 */
import { inIdOrder, nowToTheSecond, type Page, type SqlDatabase, type SqlDialect, type TableSpec } from "../../mod.ts";

export interface Purchase {
  id: number;
  userid: number;
  goodsid: number;
  /** Whole seconds, as MySQL's `datetime` keeps it. */
  date: Date;
}

export interface PurchasesStore {
  /** Records a purchase at the current time. */
  add(userid: number, goodsid: number): Promise<number>;
  /** In id order. */
  listByUser(userid: number, page?: Page): Promise<Purchase[]>;
}

/**
 * The book's table on MySQL. On SQLite, which has no date type, the date is UTC ISO 8601 text
 * (`2026-11-30T08:15:02.000Z`, what Date#toISOString writes): one instant whatever time zone anything is set to,
 * in time order when sorted.
 */
const PURCHASES_TABLE: TableSpec = {
  name: "purchases",
  create: {
    mysql: `CREATE TABLE IF NOT EXISTS purchases (
    id int NOT NULL AUTO_INCREMENT PRIMARY KEY,
    userid int NOT NULL,
    goodsid int NOT NULL,
    date datetime NOT NULL DEFAULT CURRENT_TIMESTAMP
  ) DEFAULT CHARSET = utf8mb4`,
    sqlite: `CREATE TABLE IF NOT EXISTS purchases (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    userid INTEGER NOT NULL CHECK (userid BETWEEN -2147483648 AND 2147483647),
    goodsid INTEGER NOT NULL CHECK (goodsid BETWEEN -2147483648 AND 2147483647),
    date TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%S.000Z', 'now'))
  ) STRICT`,
  },
  columns: ["id", "userid", "goodsid", "date"],
};

/**
 * The one place where the SQL differs by database: the date column from and to seconds since the epoch. MySQL
 * keeps a datetime in the session's time zone (the server's), as the book's CURRENT_TIMESTAMP writes it, and
 * converts both ways itself, so a row means the same instant to the book and to Pilcrow whatever time zone the
 * server or any process is set to, daylight saving included; SQLite reads and writes its UTC text.
 */
const DATE_IN_SECONDS: Record<SqlDialect, { write: string; read: string }> = {
  mysql: { write: "FROM_UNIXTIME(?)", read: "UNIX_TIMESTAMP(date)" },
  sqlite: {
    write: "strftime('%Y-%m-%dT%H:%M:%S.000Z', ?, 'unixepoch')",
    read: "CAST(strftime('%s', date) AS INTEGER)",
  },
};

/** Prepares the purchases table on either database, then answers from it. */
export async function purchasesStore(db: SqlDatabase): Promise<PurchasesStore> {
  await db.prepareTable(PURCHASES_TABLE);
  const date = DATE_IN_SECONDS[db.dialect];
  return {
    async add(userid, goodsid) {
      const result = await db.run<{ insertId: number }>(
        `INSERT INTO purchases (userid, goodsid, date) VALUES (?, ?, ${date.write})`,
        [userid, goodsid, nowToTheSecond().getTime() / 1000],
      );
      return result.insertId;
    },
    async listByUser(userid, page) {
      const { tail, values } = inIdOrder(["userid = ?"], [userid], page);
      const rows = await db.run<(Omit<Purchase, "date"> & { date: number | string })[]>(
        `SELECT id, userid, goodsid, ${date.read} AS date FROM purchases${tail}`,
        values,
      );
      return rows.map((row) => ({ ...row, date: new Date(Number(row.date) * 1000) }));
    },
  };
}
