/** Purchases keeps its own table (docs/protocol.md §5): embedded, or the book's `purchases` table on MySQL. */
import {
  inIdOrder,
  MemoryTable,
  type MysqlDatabase,
  nowToTheSecond,
  type Page,
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
