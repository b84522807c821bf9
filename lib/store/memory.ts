/** The embedded store: tables in memory, no server needed, nothing kept across restarts. */
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
} from "./contract.ts";

/** An auto-increment table; ids start at 1 and are never reused, as in MySQL. */
class Table<Row extends { id: number }> {
  /** Rows by id; a Map iterates in insertion order, which is id order. */
  readonly rows = new Map<number, Row>();
  #lastId = 0;

  insert(values: Omit<Row, "id">): number {
    const id = ++this.#lastId;
    this.rows.set(id, { id, ...values } as Row);
    return id;
  }

  /** Copies of the rows that pass `filter`, in id order, as one page. */
  select(page: Page = {}, filter: (row: Row) => boolean = () => true): Row[] {
    const { limit = Infinity, after = -Infinity } = page;
    const selected: Row[] = [];
    for (const row of this.rows.values()) {
      if (selected.length >= limit) break;
      if (row.id > after && filter(row)) selected.push({ ...row });
    }
    return selected;
  }
}

function memoryGoods(): GoodsStore {
  const table = new Table<Goods>();
  return {
    add: (goods) => Promise.resolve(table.insert(goods)),
    list: (page) => Promise.resolve(table.select(page)),
    remove: (id) => Promise.resolve(void table.rows.delete(id)),
  };
}

function memoryMembers(): MembersStore {
  const table = new Table<Member>();
  const byName = new Map<string, number>();
  return {
    add(username, password) {
      if (byName.has(username)) return Promise.resolve(undefined);
      const id = table.insert({ username, password });
      byName.set(username, id);
      return Promise.resolve(id);
    },
    find(username) {
      const id = byName.get(username);
      const row = id === undefined ? undefined : table.rows.get(id);
      return Promise.resolve(row && { ...row });
    },
    remove(username) {
      const id = byName.get(username);
      if (id !== undefined) {
        byName.delete(username);
        table.rows.delete(id);
      }
      return Promise.resolve();
    },
  };
}

function memoryPurchases(): PurchasesStore {
  const table = new Table<Purchase>();
  return {
    add: (userid, goodsid) => Promise.resolve(table.insert({ userid, goodsid, date: nowToTheSecond() })),
    listByUser: (userid, page) => Promise.resolve(table.select(page, (row) => row.userid === userid)),
  };
}

export function memoryStore(): Store {
  return {
    description: "embedded (in memory)",
    goods: memoryGoods(),
    members: memoryMembers(),
    purchases: memoryPurchases(),
    close: () => Promise.resolve(),
  };
}
