/**
 * Members keeps its own table (docs/protocol.md §5): in memory, in the service's SQLite file, or the book's
 * `members` table on MySQL.
 */
import {
  isDuplicateEntry,
  isUniqueViolation,
  MemoryTable,
  type MysqlDatabase,
  type SqliteBackend,
  type SqliteDatabase,
  type StoreBackends,
} from "../../mod.ts";

export interface Member {
  id: number;
  username: string;
  /** The salted slow hash, never the password (password.ts). */
  password: string;
}

export interface MembersStore {
  /** Returns the new member's id, or undefined when the username is taken. */
  add(username: string, passwordHash: string): Promise<number | undefined>;
  find(username: string): Promise<Member | undefined>;
  remove(username: string): Promise<void>;
}

export const membersStore: StoreBackends<MembersStore> = { memory: memoryMembers, mysql: mysqlMembers };

export function memoryMembers(): MembersStore {
  const table = new MemoryTable<Member>();
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
  await db.prepareTable(MEMBERS_TABLE);
  return {
    async add(username, passwordHash) {
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
      const rows = await db.run<Member[]>("SELECT id, username, password FROM members WHERE username = ?", [username]);
      return rows.length === 0 ? undefined : { ...rows[0] };
    },
    async remove(username) {
      await db.run("DELETE FROM members WHERE username = ?", [username]);
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

export const membersSqliteStore: SqliteBackend<MembersStore> = { sqlite: sqliteMembers };

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
  };
}
