/**
 * A database as the book's programs leave it: the tables of chapter 4's sql.sql (docs/protocol.md §5's schema,
 * `DEFAULT CHARSET=utf8`, which is utf8mb3), and rows written the book's way — members with MySQL's PASSWORD(),
 * purchases dated by the server's CURRENT_TIMESTAMP in its own time zone.
 */
import mysql from "mysql2/promise";

export const BOOK_TABLES = [
  `CREATE TABLE goods (
    id int NOT NULL AUTO_INCREMENT,
    name varchar(128) NOT NULL,
    category varchar(128) NOT NULL,
    price int NOT NULL,
    description text NOT NULL,
    PRIMARY KEY (id)
  ) ENGINE=InnoDB DEFAULT CHARSET=utf8`,
  `CREATE TABLE members (
    id int NOT NULL AUTO_INCREMENT,
    username varchar(128) NOT NULL,
    password varchar(256) NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY username_UNIQUE (username)
  ) ENGINE=InnoDB DEFAULT CHARSET=utf8`,
  `CREATE TABLE purchases (
    id int NOT NULL AUTO_INCREMENT,
    userid int NOT NULL,
    goodsid int NOT NULL,
    date datetime NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (id)
  ) ENGINE=InnoDB DEFAULT CHARSET=utf8`,
];

/** A connection as the book's programs open one: the server's own time zone, no conversion asked for. */
export interface BookDatabase {
  query<T = unknown>(sql: string, values?: unknown[]): Promise<T>;
  /** Registers a member the book's way: `password(?)`, MySQL's `*` + HEX(SHA1(SHA1(pw))). Returns the id. */
  registerMember(username: string, password: string): Promise<number>;
  /** Records a purchase the book's way, dated by CURRENT_TIMESTAMP. Returns the id. */
  purchase(userid: number, goodsid: number): Promise<number>;
  end(): Promise<void>;
}

/** Creates `database` (utf8, as the book's script does) with the book's tables, on the server at `serverUrl`. */
export async function createBookDatabase(serverUrl: string, database: string): Promise<BookDatabase> {
  const connection = await mysql.createConnection({ uri: serverUrl, charset: "utf8mb4" });
  await connection.query(`CREATE DATABASE \`${database}\` DEFAULT CHARSET utf8`);
  await connection.query(`USE \`${database}\``);
  for (const statement of BOOK_TABLES) await connection.query(statement);
  const query = async <T>(sql: string, values: unknown[] = []) => (await connection.query(sql, values))[0] as T;
  return {
    query,
    async registerMember(username, password) {
      const result = await query<{ insertId: number }>(
        "INSERT INTO members (username, password) VALUES (?, password(?))",
        [username, password],
      );
      return result.insertId;
    },
    async purchase(userid, goodsid) {
      const result = await query<{ insertId: number }>(
        "INSERT INTO purchases (userid, goodsid) VALUES (?, ?)",
        [userid, goodsid],
      );
      return result.insertId;
    },
    end: () => connection.end(),
  };
}
