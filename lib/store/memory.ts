/** The embedded store's building block: a table in memory, no server needed, nothing kept across restarts. */
import type { Page } from "./contract.ts";

/** An auto-increment table; ids start at 1 and are never reused, as in MySQL. */
export class MemoryTable<Row extends { id: number }> {
  /** Rows by id; a Map iterates in insertion order, which is id order. */
  readonly rows: Map<number, Row> = new Map();
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
