/**
 * SQLite on Node: better-sqlite3 12.x (an optional dependency; 13.x needs Node 22). Imported only on Node
 * (sqlite.ts), so Bun and Deno never load its native addon.
 */
import type { DriverDatabase, DriverStatement, SqliteDriver } from "./sqlite.ts";

/** better-sqlite3's Statement beyond the common shape: `columns` and `raw` throw for one that returns no rows. */
interface BetterStatement extends DriverStatement {
  readonly reader: boolean;
  columns(): { name: string }[];
  raw(on: boolean): void;
}

// A specifier in a variable: the package ships no types, and the little used of it is typed by DriverDatabase.
const PACKAGE = "better-sqlite3";

export async function betterSqliteDriver(): Promise<SqliteDriver> {
  let Database: new(path: string) => DriverDatabase;
  try {
    ({ default: Database } = await import(PACKAGE));
  } catch (error) {
    throw new Error(
      "the embedded store on Node needs better-sqlite3 12.x, which could not be loaded "
        + `(${(error as Error).message}); install it with npm install better-sqlite3@12, or run on Bun or Deno`,
      { cause: error },
    );
  }
  return {
    open: (path) => new Database(path),
    arrayColumns(statement) {
      const better = statement as BetterStatement;
      return better.reader ? better.columns().map((column) => column.name) : undefined;
    },
    returnArrays: (statement) => (statement as BetterStatement).raw(true),
  };
}
