/**
 * SQLite on Bun and Deno: their built-in `node:sqlite` (DatabaseSync). Imported only there (sqlite.ts):
 * Node 20 has no such module.
 */
import type { DriverDatabase, SqliteDriver } from "./sqlite.ts";

// A specifier in a variable: Node 20's types know no node:sqlite, and this file never runs on Node.
const BUILTIN = "node:sqlite";

export async function builtinSqliteDriver(): Promise<SqliteDriver> {
  const { DatabaseSync } = await import(BUILTIN) as {
    DatabaseSync: new(path: string) => DriverDatabase;
  };
  return { open: (path) => new DatabaseSync(path) };
}
