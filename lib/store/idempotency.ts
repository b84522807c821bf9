/**
 * Idempotency keys in the service's own database (docs/protocol.md §9). A request that carries a key is done at
 * most once per route and key within the window: the kit (lib/service/idempotency.ts) runs its handler in an
 * IdempotentRequest scope, and every WRITE statement the handler runs there is memoised in the same transaction
 * as its effect — the table `pilcrow_idempotency` holds, per (route, key), the fingerprint of the first
 * request's params, the result of each of its writes in order, and its answer once it was given.
 *
 * Why the writes and not only the answer: a process can die between its write and its answer. Had only the
 * answer been kept, a retry would find none and write again. With each write's result committed atomically
 * with the write itself, a retry (here or on another instance sharing the database) runs the handler again and
 * its N-th write returns the first attempt's N-th result without running: exactly one effect, the same answer
 * for a handler that decides from its params and its writes' results (as the shipped ones do).
 *
 * Concurrent attempts serialise on the key's row (SQLite: BEGIN IMMEDIATE, a synchronous block no other request
 * can enter; MySQL: the row lock of INSERT … ON DUPLICATE KEY UPDATE), so the second one gets the first one's
 * results: no 409 is needed, and none is given.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { TableSpec } from "./sql.ts";

/** One request being handled under an idempotency key. */
export interface IdempotentRequest {
  /** `POST/goods`: a key is matched per route. */
  readonly route: string;
  readonly key: string;
  /** sha-256 of the request's params in canonical form (lib/service/idempotency.ts). */
  readonly fingerprint: string;
  /** Rows older than this many ms are expired: the key may be used afresh. */
  readonly windowMs: number;
  /** Writes run so far under this request: the index of the next one. */
  writes: number;
}

/** The scope the database's `run` looks in: set by the kit around a handler, empty everywhere else. */
export const idempotentRequest: AsyncLocalStorage<IdempotentRequest> = new AsyncLocalStorage<IdempotentRequest>();

const IDEMPOTENCY_TABLE = "pilcrow_idempotency";

/** The key was first used with other params: refused (HTTP 422 at the gateway), nothing run. */
export class IdempotencyKeyReusedError extends Error {
  override name = "IdempotencyKeyReusedError";
  constructor() {
    super("this Idempotency-Key was used with another request");
  }
}

/** Statements that only read: anything else run inside an IdempotentRequest is memoised. */
const READ_ONLY = /^\s*(SELECT|PRAGMA|EXPLAIN|SHOW|DESCRIBE)\b/i;

/** The scope a statement must be memoised in, or undefined when it runs as usual. */
export function memoisingScope(sql: string): IdempotentRequest | undefined {
  const scope = idempotentRequest.getStore();
  return scope && !READ_ONLY.test(sql) ? scope : undefined;
}

/** A write's result as it is kept: only what the stores read (ids, counts, RETURNING rows), as JSON. */
function storableResult(result: unknown): unknown {
  if (Array.isArray(result)) return JSON.parse(JSON.stringify(result, bigintAsNumber));
  const { insertId, affectedRows } = result as { insertId?: unknown; affectedRows?: unknown };
  return { insertId: Number(insertId), affectedRows: Number(affectedRows) };
}

function bigintAsNumber(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? Number(value) : value;
}

/** What a key's row says when the kit looks it up before running the handler. */
export interface KeyRecord {
  fingerprint: string;
  /** The first attempt's answer (without its `key`), once it was given. */
  answer: Record<string, unknown> | undefined;
}

/** The kit's side of the table: look a key up, keep the answer, purge what expired. */
export interface IdempotencyLedger {
  find(route: string, key: string, windowMs: number): Promise<KeyRecord | undefined>;
  /** Best effort: if the process dies first, a retry runs the handler again, its writes memoised. */
  saveAnswer(route: string, key: string, answer: Record<string, unknown>): Promise<void>;
  purge(windowMs: number): Promise<void>;
}

/** Runs one statement outside any IdempotentRequest (the ledger's own statements are never memoised). */
type Run = <T>(sql: string, values?: unknown[]) => Promise<T>;

/** The ledger on a database's `run`; the same SQL serves SQLite and MySQL. */
export function ledgerOn(run: Run): IdempotencyLedger {
  const outside: Run = (sql, values) => idempotentRequest.exit(() => run(sql, values));
  return {
    async find(route, key, windowMs) {
      const rows = await outside<{ fingerprint: string; answer: string | null }[]>(
        `SELECT fingerprint, answer FROM ${IDEMPOTENCY_TABLE} WHERE route = ? AND idem_key = ? AND created_at >= ?`,
        [route, key, Date.now() - windowMs],
      );
      if (rows.length === 0) return undefined;
      const { fingerprint, answer } = rows[0];
      return { fingerprint, answer: answer === null ? undefined : JSON.parse(answer) };
    },
    async saveAnswer(route, key, answer) {
      await outside(`UPDATE ${IDEMPOTENCY_TABLE} SET answer = ? WHERE route = ? AND idem_key = ?`, [
        JSON.stringify(answer),
        route,
        key,
      ]);
    },
    async purge(windowMs) {
      await outside(`DELETE FROM ${IDEMPOTENCY_TABLE} WHERE created_at < ?`, [Date.now() - windowMs]);
    },
  };
}

/**
 * The table, on SQLite STRICT with keys and routes bounded as the gateway bounds them; on MySQL created_at in ms
 * since the epoch, so no time zone can shift the window.
 */
export const IDEMPOTENCY_TABLE_SPEC: TableSpec = {
  name: IDEMPOTENCY_TABLE,
  create: {
    sqlite: `CREATE TABLE IF NOT EXISTS ${IDEMPOTENCY_TABLE} (
    route TEXT NOT NULL,
    idem_key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    results TEXT NOT NULL,
    answer TEXT,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (route, idem_key)
  ) STRICT`,
    mysql: `CREATE TABLE IF NOT EXISTS ${IDEMPOTENCY_TABLE} (
    route varchar(255) NOT NULL,
    idem_key varchar(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    fingerprint char(64) NOT NULL,
    results mediumtext NOT NULL,
    answer mediumtext NULL,
    created_at bigint NOT NULL,
    PRIMARY KEY (route, idem_key),
    KEY created_at (created_at)
  ) DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin`,
  },
  columns: ["route", "idem_key", "fingerprint", "results", "answer", "created_at"],
};

/**
 * Claims the key's row for this transaction (inserting it, or starting it afresh when expired); on MySQL the
 * upsert's exclusive lock makes a concurrent attempt wait here until this one commits. Assignments in MySQL's
 * ON DUPLICATE KEY UPDATE run left to right, so created_at is set last.
 */
const CLAIM = {
  sqlite: `INSERT INTO ${IDEMPOTENCY_TABLE} (route, idem_key, fingerprint, results, answer, created_at)
    VALUES (?, ?, ?, '[]', NULL, ?)
    ON CONFLICT (route, idem_key) DO UPDATE SET fingerprint = excluded.fingerprint, results = '[]', answer = NULL,
    created_at = excluded.created_at WHERE ${IDEMPOTENCY_TABLE}.created_at < ?`,
  mysql: `INSERT INTO ${IDEMPOTENCY_TABLE} (route, idem_key, fingerprint, results, answer, created_at)
    VALUES (?, ?, ?, '[]', NULL, ?)
    ON DUPLICATE KEY UPDATE fingerprint = IF(created_at < ?, VALUES(fingerprint), fingerprint),
    results = IF(created_at < ?, '[]', results), answer = IF(created_at < ?, NULL, answer),
    created_at = IF(created_at < ?, VALUES(created_at), created_at)`,
};

const SELECT_RESULTS = `SELECT fingerprint, results FROM ${IDEMPOTENCY_TABLE} WHERE route = ? AND idem_key = ?`;
const UPDATE_RESULTS = `UPDATE ${IDEMPOTENCY_TABLE} SET results = ? WHERE route = ? AND idem_key = ?`;

/**
 * The memoised write, written once for both databases: synchronous on SQLite (`then` calls its function at once),
 * awaited on MySQL. Returns the first attempt's result for this write's index, or runs `write` and records its
 * result. The caller holds the transaction around it.
 */
function memoised<T>(
  dialect: "sqlite" | "mysql",
  scope: IdempotentRequest,
  index: number,
  query: (sql: string, values: unknown[]) => T | Promise<T>,
  write: () => unknown,
  then: <A, B>(value: A | Promise<A>, next: (value: A) => B | Promise<B>) => B | Promise<B>,
): unknown {
  const { route, key, fingerprint } = scope;
  const now = Date.now();
  const cutoff = now - scope.windowMs;
  const claim = dialect === "sqlite"
    ? [route, key, fingerprint, now, cutoff]
    : [route, key, fingerprint, now, cutoff, cutoff, cutoff, cutoff];
  return then(query(CLAIM[dialect], claim), () =>
    then(
      query(SELECT_RESULTS + (dialect === "mysql" ? " FOR UPDATE" : ""), [route, key]) as unknown,
      (rows) => {
        const [row] = rows as { fingerprint: string; results: string }[];
        if (row.fingerprint !== fingerprint) throw new IdempotencyKeyReusedError();
        const results = JSON.parse(row.results) as unknown[];
        if (index < results.length && results[index] !== null) return results[index];
        return then(write(), (result) => {
          while (results.length < index) results.push(null);
          results[index] = storableResult(result);
          return then(query(UPDATE_RESULTS, [JSON.stringify(results), route, key]), () => result);
        });
      },
    ));
}

const now = <A, B>(value: A | Promise<A>, next: (value: A) => B | Promise<B>) => next(value as A);
const later = async <A, B>(value: A | Promise<A>, next: (value: A) => B | Promise<B>) => next(await value);

/** The SQLite connection's side: one synchronous block, BEGIN IMMEDIATE … COMMIT, so nothing interleaves. */
export interface SyncConnection {
  exec(sql: string): void;
  run(sql: string, values: readonly unknown[]): unknown;
  all(sql: string, values: readonly unknown[]): unknown[];
}

export function memoisedSqliteWrite(
  connection: SyncConnection,
  scope: IdempotentRequest,
  index: number,
  write: () => unknown,
): unknown {
  connection.exec("BEGIN IMMEDIATE");
  try {
    const result = memoised(
      "sqlite",
      scope,
      index,
      (sql, values) => sql.startsWith("SELECT") ? connection.all(sql, values) : connection.run(sql, values),
      write,
      now,
    );
    connection.exec("COMMIT");
    return result;
  } catch (error) {
    connection.exec("ROLLBACK");
    throw error;
  }
}

/** A MySQL connection of its own for the transaction (mysql2's PoolConnection.query). */
export interface AsyncConnection {
  query(options: { sql: string; values?: unknown[] }): Promise<[unknown, unknown]>;
}

/** Resolves as mysql2's `query` does, `[result, fields]`, so the caller treats it as the statement's own. */
export async function memoisedMysqlWrite(
  connection: AsyncConnection,
  scope: IdempotentRequest,
  index: number,
  sql: string,
  values: unknown[],
): Promise<[unknown, unknown]> {
  await connection.query({ sql: "START TRANSACTION" });
  const result = await memoised(
    "mysql",
    scope,
    index,
    async (statement, parameters) => (await connection.query({ sql: statement, values: parameters }))[0],
    async () => (await connection.query({ sql, values }))[0],
    later,
  );
  await connection.query({ sql: "COMMIT" });
  return [result, undefined];
}
