/**
 * A second process on a test's SQLite file (tests/sqlite.test.ts), on the runtime under test. Every line it
 * prints is a JSON log entry, so RunningProcess can wait for it.
 *
 *   write <data dir> <tag> <count> [<other tag>]
 *       inserts `count` rows (0: until killed) into `rows`, printing each one's id only after run() has
 *       returned, with a pause of 1 ms between writes; then `done` with the rows of every tag it sees. With
 *       <other tag>, it starts once a row of that tag is there, so that the two writers surely overlap.
 *   lock <data dir> <ms>            holds the write lock (BEGIN IMMEDIATE) for `ms`, then commits
 */
import { openSqliteDatabase } from "../../lib/store/sqlite.ts";

const ROWS_TABLE =
  "CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY AUTOINCREMENT, tag TEXT NOT NULL, n INTEGER NOT NULL)";

function report(event: string, details: unknown): void {
  console.log(JSON.stringify({ level: "info", process: "sqlite-writer", event, details: [details] }));
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const [mode, dataDir, ...rest] = process.argv.slice(2);
const db = await openSqliteDatabase(dataDir, "shared");
await db.run(ROWS_TABLE);
if (mode === "write") {
  const [tag, count, otherTag] = [rest[0], Number(rest[1]), rest[2]];
  report("ready", {});
  while (otherTag && (await db.run<unknown[]>("SELECT 1 FROM rows WHERE tag = ? LIMIT 1", [otherTag])).length === 0) {
    await pause(1);
  }
  for (let n = 0; count === 0 || n < count; n++) {
    const { insertId } = await db.run<{ insertId: number }>("INSERT INTO rows (tag, n) VALUES (?, ?)", [tag, n]);
    report("written", { id: insertId, n });
    await pause(1);
  }
  const seen = await db.run<{ tag: string; rows: number }[]>("SELECT tag, count(*) AS rows FROM rows GROUP BY tag");
  report("done", Object.fromEntries(seen.map(({ tag, rows }) => [tag, rows])));
} else if (mode === "lock") {
  await db.run("BEGIN IMMEDIATE");
  report("locked", {});
  await pause(Number(rest[0]));
  await db.run("COMMIT");
  report("released", {});
} else {
  throw new Error(`unknown mode ${mode}`);
}
await db.close();
