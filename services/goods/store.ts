/** Goods keeps its own table (docs/protocol.md §5): embedded, or the book's `goods` table on MySQL. */
import { inIdOrder, MemoryTable, type MysqlDatabase, type Page, type StoreBackends } from "../../mod.ts";

export interface Goods {
  id: number;
  name: string;
  category: string;
  price: number;
  description: string;
}

export interface GoodsStore {
  add(goods: Omit<Goods, "id">): Promise<number>;
  /** In id order. */
  list(page?: Page): Promise<Goods[]>;
  remove(id: number): Promise<void>;
}

export const goodsStore: StoreBackends<GoodsStore> = { memory: memoryGoods, mysql: mysqlGoods };

export function memoryGoods(): GoodsStore {
  const table = new MemoryTable<Goods>();
  return {
    add: (goods) => Promise.resolve(table.insert(goods)),
    list: (page) => Promise.resolve(table.select(page)),
    remove: (id) => Promise.resolve(void table.rows.delete(id)),
  };
}

const GOODS_TABLE = {
  name: "goods",
  create: `CREATE TABLE IF NOT EXISTS goods (
    id int NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name varchar(128) NOT NULL,
    category varchar(128) NOT NULL,
    price int NOT NULL,
    description text NOT NULL
  ) DEFAULT CHARSET = utf8mb4`,
  columns: ["id", "name", "category", "price", "description"],
};

export async function mysqlGoods(db: MysqlDatabase): Promise<GoodsStore> {
  await db.prepareTable(GOODS_TABLE);
  const select = async (tail: string, values: unknown[]) => {
    const rows = await db.run<Goods[]>(`SELECT id, name, category, price, description FROM goods${tail}`, values);
    return rows.map((row) => ({ ...row }));
  };
  return {
    async add({ name, category, price, description }) {
      const result = await db.run<{ insertId: number }>(
        "INSERT INTO goods (name, category, price, description) VALUES (?, ?, ?, ?)",
        [name, category, price, description],
      );
      return result.insertId;
    },
    list(page) {
      const { tail, values } = inIdOrder([], [], page);
      return select(tail, values);
    },
    async remove(id) {
      await db.run("DELETE FROM goods WHERE id = ?", [id]);
    },
  };
}
