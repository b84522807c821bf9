/**
 * Goods keeps its own table (docs/protocol.md §5): in the service's SQLite file (the embedded store), or the
 * book's `goods` table on MySQL — one implementation for both.
 */
import { inIdOrder, type Page, placeholders, type SqlDatabase, type TableSpec } from "../../mod.ts";

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
  /** The goods of those ids that exist, in id order. */
  lookup(ids: readonly number[]): Promise<Goods[]>;
  remove(id: number): Promise<void>;
}

/**
 * The book's table on MySQL. On SQLite the same table held to what MySQL's columns accept (STRICT types, the
 * same lengths and int range), so both refuse the same rows; AUTOINCREMENT: ids are never reused, as with
 * MySQL's AUTO_INCREMENT.
 */
const GOODS_TABLE: TableSpec = {
  name: "goods",
  create: {
    mysql: `CREATE TABLE IF NOT EXISTS goods (
    id int NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name varchar(128) NOT NULL,
    category varchar(128) NOT NULL,
    price int NOT NULL,
    description text NOT NULL
  ) DEFAULT CHARSET = utf8mb4`,
    sqlite: `CREATE TABLE IF NOT EXISTS goods (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL CHECK (length(name) <= 128),
    category TEXT NOT NULL CHECK (length(category) <= 128),
    price INTEGER NOT NULL CHECK (price BETWEEN -2147483648 AND 2147483647),
    description TEXT NOT NULL CHECK (length(CAST(description AS BLOB)) <= 65535)
  ) STRICT`,
  },
  columns: ["id", "name", "category", "price", "description"],
};

/** Prepares the goods table on either database, then answers from it. */
export async function goodsStore(db: SqlDatabase): Promise<GoodsStore> {
  const table = await db.prepareTable(GOODS_TABLE);
  const select = (tail: string, values: unknown[]) =>
    db.run<Goods[]>(`SELECT id, name, category, price, description FROM goods${tail}`, values);
  return {
    async add({ name, category, price, description }) {
      await table.assertStorable({ name, category, description });
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
    lookup(ids) {
      if (ids.length === 0) return Promise.resolve([]);
      return select(` WHERE id IN (${placeholders(ids)}) ORDER BY id`, [...ids]);
    },
    async remove(id) {
      await db.run("DELETE FROM goods WHERE id = ?", [id]);
    },
  };
}
