/**
 * What every service's store shares (docs/protocol.md §5). Each service declares its own store — an interface
 * and one implementation on SqlDatabase (services/goods/store.ts…), which SQLite and MySQL both provide — and
 * opens it with openStore; one contract suite (tests/store-contract.test.ts) runs it on both databases.
 */

/**
 * One page of a list that can grow: at most `limit` rows whose id is greater than `after`, in id order.
 * Either may be absent: without both, the whole list.
 */
export interface Page {
  limit?: number;
  after?: number;
}

/**
 * What a failed statement means to a store: `duplicate` when it broke a unique key (a username taken: an answer
 * for the client, not a database failure), `failure` for anything else. Each database sets it from its own
 * error codes (lib/store/mysql.ts, lib/store/sqlite.ts), so a store checks one thing on both.
 */
export type StoreErrorKind = "duplicate" | "failure";

/**
 * The database failed (unreachable, timed out, refused the statement). Its message is short and safe for
 * a client; the driver's error, which may quote SQL or internals, is kept as `cause` for the log only.
 */
export class StoreError extends Error {
  override name = "StoreError";
  constructor(cause: unknown, readonly kind: StoreErrorKind = "failure") {
    super("Database Error", { cause });
  }
}

/** The current time at MySQL `datetime` precision, so a store answers alike on both databases. */
export function nowToTheSecond(): Date {
  return new Date(Math.floor(Date.now() / 1000) * 1000);
}
