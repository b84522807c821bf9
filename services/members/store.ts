/**
 * Members keeps its own table (docs/protocol.md §5): in the service's SQLite file (the embedded store), or the
 * book's `members` table on MySQL — one implementation for both.
 */
import { type SqlDatabase, StoreError, type TableSpec } from "../../mod.ts";

export interface Member {
  id: number;
  username: string;
  /** The salted slow hash, never the password — or, in a book's database, MySQL's old PASSWORD() (password.ts). */
  password: string;
}

export interface MembersStore {
  /** Returns the new member's id, or undefined when the username is taken. */
  add(username: string, passwordHash: string): Promise<number | undefined>;
  find(username: string): Promise<Member | undefined>;
  remove(username: string): Promise<void>;
  /**
   * Replaces a member's stored password by `newHash` if it is still `oldHash`. True for the one call that did
   * it: two logins at once with the same old hash upgrade the row once, and a password changed meanwhile stays.
   */
  upgradePassword(id: number, oldHash: string, newHash: string): Promise<boolean>;
}

/** The book's table on MySQL; on SQLite the same, held to MySQL's lengths, a username unique byte for byte. */
const MEMBERS_TABLE: TableSpec = {
  name: "members",
  create: {
    mysql: `CREATE TABLE IF NOT EXISTS members (
    id int NOT NULL AUTO_INCREMENT PRIMARY KEY,
    username varchar(128) NOT NULL UNIQUE,
    password varchar(256) NOT NULL
  ) DEFAULT CHARSET = utf8mb4`,
    sqlite: `CREATE TABLE IF NOT EXISTS members (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL UNIQUE CHECK (length(username) <= 128),
    password TEXT NOT NULL CHECK (length(password) <= 256)
  ) STRICT`,
  },
  columns: ["id", "username", "password"],
};

/** Prepares the members table on either database, then answers from it. */
export async function membersStore(db: SqlDatabase): Promise<MembersStore> {
  const table = await db.prepareTable(MEMBERS_TABLE);
  return {
    async add(username, passwordHash) {
      await table.assertStorable({ username });
      try {
        const result = await db.run<{ insertId: number }>(
          "INSERT INTO members (username, password) VALUES (?, ?)",
          [username, passwordHash],
        );
        return result.insertId;
      } catch (error) {
        if (error instanceof StoreError && error.kind === "duplicate") return undefined;
        throw error;
      }
    },
    async find(username) {
      // A name a utf8mb3 table cannot hold is no member's (and comparing with it would be a collation error).
      if (await table.unstorable({ username })) return undefined;
      const rows = await db.run<Member[]>("SELECT id, username, password FROM members WHERE username = ?", [username]);
      return rows[0];
    },
    async remove(username) {
      if (await table.unstorable({ username })) return;
      await db.run("DELETE FROM members WHERE username = ?", [username]);
    },
    async upgradePassword(id, oldHash, newHash) {
      const result = await db.run<{ affectedRows: number }>(
        "UPDATE members SET password = ? WHERE id = ? AND password = ?",
        [newHash, id, oldHash],
      );
      return result.affectedRows === 1;
    },
  };
}
