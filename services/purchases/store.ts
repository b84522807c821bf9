/**
 * Purchases keeps its own table (docs/protocol.md §5): in the service's SQLite file (the embedded store), or the
 * book's `purchases` table on MySQL.
 */
import {
  inIdOrder,
  type MysqlDatabase,
  nowToTheSecond,
  type Page,
  type SqliteDatabase,
  type StoreBackends,
} from "../../mod.ts";

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

export const purchasesStore: StoreBackends<PurchasesStore> = { sqlite: sqlitePurchases, mysql: mysqlPurchases };

const PURCHASES_TABLE = {
  name: "purchases",
  create: `CREATE TABLE IF NOT EXISTS purchases (
    id int NOT NULL AUTO_INCREMENT PRIMARY KEY,
    userid int NOT NULL,
    goodsid int NOT NULL,
    date datetime NOT NULL DEFAULT CURRENT_TIMESTAMP
  ) DEFAULT CHARSET = utf8mb4`,
  columns: ["id", "userid", "goodsid", "date"],
};

export async function mysqlPurchases(db: MysqlDatabase): Promise<PurchasesStore> {
  await db.prepareTable(PURCHASES_TABLE);
  return {
    // A datetime is kept in the session's time zone (the server's), as the book's CURRENT_TIMESTAMP writes it:
    // the server converts both ways (FROM_UNIXTIME, UNIX_TIMESTAMP), so a row means the same instant to the
    // book and to Pilcrow whatever time zone the server or any process is set to, daylight saving included.
    async add(userid, goodsid) {
      const result = await db.run<{ insertId: number }>(
        "INSERT INTO purchases (userid, goodsid, date) VALUES (?, ?, FROM_UNIXTIME(?))",
        [userid, goodsid, nowToTheSecond().getTime() / 1000],
      );
      return result.insertId;
    },
    async listByUser(userid, page) {
      const { tail, values } = inIdOrder(["userid = ?"], [userid], page);
      const rows = await db.run<(Omit<Purchase, "date"> & { date: number | string })[]>(
        `SELECT id, userid, goodsid, UNIX_TIMESTAMP(date) AS date FROM purchases${tail}`,
        values,
      );
      return rows.map((row) => ({ ...row, date: new Date(Number(row.date) * 1000) }));
    },
  };
}

/**
 * The same table in SQLite. SQLite has no date type: the date is kept as UTC ISO 8601 text
 * (`2026-11-30T08:15:02.000Z`, what Date#toISOString writes), which means one instant whatever time zone
 * anything is set to, sorts in time order, and reads back as the same Date.
 */
const SQLITE_PURCHASES_TABLE = {
  name: "purchases",
  create: `CREATE TABLE IF NOT EXISTS purchases (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    userid INTEGER NOT NULL CHECK (userid BETWEEN -2147483648 AND 2147483647),
    goodsid INTEGER NOT NULL CHECK (goodsid BETWEEN -2147483648 AND 2147483647),
    date TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%S.000Z', 'now'))
  ) STRICT`,
  columns: PURCHASES_TABLE.columns,
};

export async function sqlitePurchases(db: SqliteDatabase): Promise<PurchasesStore> {
  await db.prepareTable(SQLITE_PURCHASES_TABLE);
  return {
    async add(userid, goodsid) {
      const result = await db.run<{ insertId: number }>(
        "INSERT INTO purchases (userid, goodsid, date) VALUES (?, ?, ?)",
        [userid, goodsid, nowToTheSecond().toISOString()],
      );
      return result.insertId;
    },
    async listByUser(userid, page) {
      const { tail, values } = inIdOrder(["userid = ?"], [userid], page);
      const rows = await db.run<(Omit<Purchase, "date"> & { date: string })[]>(
        `SELECT id, userid, goodsid, date FROM purchases${tail}`,
        values,
      );
      return rows.map((row) => ({ ...row, date: new Date(row.date) }));
    },
  };
}
