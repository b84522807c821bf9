/**
 * What a service's MySQL store is written against: a database that runs one statement with placeholders
 * within a deadline (lib/store/mysql.ts implements it on mysql2's pool), its tables, and SQL helpers.
 */
import { ServiceError } from "../service/errors.ts";
import type { Page } from "./contract.ts";
import { StoreError } from "./contract.ts";

export interface MysqlDatabase {
  /** Runs one statement; any failure (the database away, the deadline passed) is a StoreError. */
  run<T>(sql: string, values?: unknown[]): Promise<T>;
  /**
   * Creates the table if it is missing; refuses one that exists without the columns the service needs; warns
   * once, with the statement that converts it, when the table or a column is utf8mb3 (the book's `utf8`).
   */
  prepareTable(table: TableSpec): Promise<MysqlTable>;
}

/** A prepared table, and what its text columns can hold. */
export interface MysqlTable {
  /**
   * The first of these columns whose value the table cannot hold: a character beyond the Basic Multilingual
   * Plane (4-byte UTF-8, emoji) in a utf8mb3 column. The server is asked again before a column is named, so
   * a table converted since start-up takes such text at once.
   */
  unstorable(values: Record<string, string>): Promise<string | undefined>;
  /** Throws a ServiceError saying which value cannot be stored and how to convert the table, instead of writing. */
  assertStorable(values: Record<string, string>): Promise<void>;
}

/** What a client is told instead of "Database Error" when a utf8mb3 table cannot hold its text. */
export class UnstorableTextError extends ServiceError {
  override name = "UnstorableTextError";
  constructor(table: string, column: string) {
    super(`${column} cannot be stored: the ${table} table is utf8mb3; convert it to utf8mb4`);
  }
}

/** A table a service keeps: `CREATE TABLE IF NOT EXISTS …`, and the columns an existing table must have. */
export interface TableSpec {
  name: string;
  create: string;
  columns: string[];
}

/**
 * The end of a list's SELECT: its conditions, `id > ?` for a page that starts after an id, id order, and the
 * page's LIMIT — with the placeholders' values in order.
 */
export function inIdOrder(
  conditions: string[],
  values: unknown[],
  page: Page = {},
): { tail: string; values: unknown[] } {
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

const DUPLICATE_ENTRY = 1062;

/** The statement broke a unique key (a username taken): an answer for the client, not a database failure. */
export function isDuplicateEntry(error: unknown): boolean {
  return error instanceof StoreError && (error.cause as { errno?: number } | undefined)?.errno === DUPLICATE_ENTRY;
}
