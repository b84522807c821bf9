/**
 * What a service's store is written against, once for both databases: one that runs one statement with `?`
 * placeholders (lib/store/sqlite.ts on SQLite, lib/store/mysql.ts on mysql2's pool within a deadline), its
 * tables, and SQL helpers. Where the SQL itself must differ, a store chooses by `dialect`.
 */
import { ServiceError } from "../service/errors.ts";
import type { Page } from "./contract.ts";

export type SqlDialect = "mysql" | "sqlite";

export interface SqlDatabase {
  readonly dialect: SqlDialect;
  /**
   * Runs one statement: a query gives its rows, any other statement `{ insertId, affectedRows }`. Any failure
   * (the database away, the deadline passed, a constraint broken) is a StoreError; its `kind` is `duplicate`
   * when a unique key was broken.
   */
  run<T>(sql: string, values?: unknown[]): Promise<T>;
  /**
   * Creates the table if it is missing (with the dialect's statement); refuses one that exists without the
   * columns the service needs. On MySQL, warns once, with the statement that converts it, when the table or a
   * column is utf8mb3 (the book's `utf8`).
   */
  prepareTable(table: TableSpec): Promise<SqlTable>;
}

/** A prepared table, and what its text columns can hold. */
export interface SqlTable {
  /**
   * The first of these columns whose value the table cannot hold: a character beyond the Basic Multilingual
   * Plane (4-byte UTF-8, emoji) in a utf8mb3 column on MySQL; never one on SQLite, which stores any valid UTF-8.
   * The server is asked again before a column is named, so a table converted since start-up takes such text at
   * once.
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

/**
 * A table a service keeps: its `CREATE TABLE IF NOT EXISTS …` in each dialect (column types differ), and the
 * columns an existing table must have.
 */
export interface TableSpec {
  name: string;
  create: Record<SqlDialect, string>;
  columns: string[];
}

/** `?, ?, ?`: one placeholder per value, for `IN (…)` (an array bound to one `?` is mysql2's alone). */
export function placeholders(values: readonly unknown[]): string {
  return values.map(() => "?").join(", ");
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
