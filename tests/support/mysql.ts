/**
 * MySQL for tests: MYSQL_URL when set, else the MariaDB on 127.0.0.1:3306 (root, no password) if one
 * answers. Each suite gets a fresh database of its own, dropped afterwards. Without MySQL the suites are
 * skipped with a message saying how to run them — except in CI (CI=true), where that is a failure.
 */
import mysql from "mysql2/promise";

const FALLBACK_URL = "mysql://root@127.0.0.1:3306/test";

async function answers(url: string): Promise<boolean> {
  try {
    const connection = await mysql.createConnection({ uri: url, connectTimeout: 2000 });
    await connection.end();
    return true;
  } catch {
    return false;
  }
}

async function findServer(): Promise<string | undefined> {
  const url = process.env.MYSQL_URL ?? FALLBACK_URL;
  if (await answers(url)) return url;
  if (process.env.CI === "true") {
    throw new Error(
      `CI=true but no MySQL answers at ${url.replace(/:[^:@/]*@/, ":***@")}: .ci/run should have started one`,
    );
  }
  return undefined;
}

export const mysqlServerUrl = await findServer();

/** The `skip` option for a suite that needs MySQL (said aloud too: not every runner prints skip reasons). */
export const skipWithoutMysql: string | false = mysqlServerUrl
  ? false
  : "no MySQL: set MYSQL_URL=mysql://user:password@host:port/database "
    + "(or run MariaDB on 127.0.0.1:3306 with root and no password) to run the MySQL tests";

export interface TestDatabase {
  url: string;
  name: string;
  query<T = unknown>(sql: string, values?: unknown[]): Promise<T>;
  drop(): Promise<void>;
}

/** A database of its own for one suite, on the server found above. */
export async function createTestDatabase(label: string): Promise<TestDatabase> {
  const base = new URL(mysqlServerUrl!);
  const name = `pilcrow_${label}_${process.pid}_${Math.floor(Math.random() * 1e6)}`;
  const admin = await mysql.createConnection({ uri: mysqlServerUrl!, timezone: "Z" });
  await admin.query(`CREATE DATABASE \`${name}\` DEFAULT CHARSET utf8mb4`);
  await admin.query(`USE \`${name}\``);
  base.pathname = `/${name}`;
  return {
    url: base.toString(),
    name,
    async query<T>(sql: string, values: unknown[] = []) {
      const [rows] = await admin.query(sql, values);
      return rows as T;
    },
    async drop() {
      await admin.query(`DROP DATABASE IF EXISTS \`${name}\``);
      await admin.end();
    },
  };
}

if (skipWithoutMysql) console.warn(`skipping MySQL tests: ${skipWithoutMysql}`);
