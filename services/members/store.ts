/**
 * Members keeps its own table (docs/protocol.md §5): in the service's SQLite file (the embedded store), or the
 * book's `members` table on MySQL.
 */
import {
  isDuplicateEntry,
  isUniqueViolation,
  type MysqlDatabase,
  type SqliteDatabase,
  type StoreBackends,
} from "../../mod.ts";

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

const UPGRADE_PASSWORD = "UPDATE members SET password = ? WHERE id = ? AND password = ?";

export const membersStore: StoreBackends<MembersStore> = { sqlite: sqliteMembers, mysql: mysqlMembers };

const MEMBERS_TABLE = {
  name: "members",
  create: `CREATE TABLE IF NOT EXISTS members (
    id int NOT NULL AUTO_INCREMENT PRIMARY KEY,
    username varchar(128) NOT NULL UNIQUE,
    password varchar(256) NOT NULL
  ) DEFAULT CHARSET = utf8mb4`,
  columns: ["id", "username", "password"],
};

export async function mysqlMembers(db: MysqlDatabase): Promise<MembersStore> {
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
        if (isDuplicateEntry(error)) return undefined;
        throw error;
      }
    },
    async find(username) {
      // A name a utf8mb3 table cannot hold is no member's (and comparing with it would be a collation error).
      if (await table.unstorable({ username })) return undefined;
      const rows = await db.run<Member[]>("SELECT id, username, password FROM members WHERE username = ?", [username]);
      return rows.length === 0 ? undefined : { ...rows[0] };
    },
    async remove(username) {
      if (await table.unstorable({ username })) return;
      await db.run("DELETE FROM members WHERE username = ?", [username]);
    },
    async upgradePassword(id, oldHash, newHash) {
      const result = await db.run<{ affectedRows: number }>(UPGRADE_PASSWORD, [newHash, id, oldHash]);
      return result.affectedRows === 1;
    },
  };
}

/** The same table in SQLite, held to MySQL's lengths; a username is unique byte for byte. */
const SQLITE_MEMBERS_TABLE = {
  name: "members",
  create: `CREATE TABLE IF NOT EXISTS members (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL UNIQUE CHECK (length(username) <= 128),
    password TEXT NOT NULL CHECK (length(password) <= 256)
  ) STRICT`,
  columns: MEMBERS_TABLE.columns,
};

export async function sqliteMembers(db: SqliteDatabase): Promise<MembersStore> {
  await db.prepareTable(SQLITE_MEMBERS_TABLE);
  return {
    async add(username, passwordHash) {
      try {
        const result = await db.run<{ insertId: number }>(
          "INSERT INTO members (username, password) VALUES (?, ?)",
          [username, passwordHash],
        );
        return result.insertId;
      } catch (error) {
        if (isUniqueViolation(error)) return undefined;
        throw error;
      }
    },
    async find(username) {
      const rows = await db.run<Member[]>("SELECT id, username, password FROM members WHERE username = ?", [username]);
      return rows[0];
    },
    async remove(username) {
      await db.run("DELETE FROM members WHERE username = ?", [username]);
    },
    async upgradePassword(id, oldHash, newHash) {
      const result = await db.run<{ affectedRows: number }>(UPGRADE_PASSWORD, [newHash, id, oldHash]);
      return result.affectedRows === 1;
    },
  };
}
