/**
 * Purchases keeps its own table (docs/protocol.md §5): in memory, in the service's SQLite file, or the book's
 * `purchases` table on MySQL.
 */
import {
  inIdOrder,
  MemoryTable,
  type MysqlDatabase,
  nowToTheSecond,
  type Page,
  type SqliteBackend,
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

export const purchasesStore: StoreBackends<PurchasesStore> = { memory: memoryPurchases, mysql: mysqlPurchases };

export function memoryPurchases(): PurchasesStore {
  const table = new MemoryTable<Purchase>();
  return {
    add: (userid, goodsid) => Promise.resolve(table.insert({ userid, goodsid, date: nowToTheSecond() })),
    listByUser: (userid, page) => Promise.resolve(table.select(page, (row) => row.userid === userid)),
  };
}

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
      const rows = await db.run<Purchase[]>(`SELECT id, userid, goodsid, date FROM purchases${tail}`, values);
      return rows.map((row) => ({ ...row }));
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

export const purchasesSqliteStore: SqliteBackend<PurchasesStore> = { sqlite: sqlitePurchases };

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
