/**
 * What every service's store shares (docs/protocol.md §5). Each service declares its own store — an interface,
 * an embedded implementation and a MySQL one (services/goods/store.ts…) — and opens it with openStore; one
 * contract suite (tests/store-contract.test.ts) runs against both implementations of each.
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
 * The database failed (unreachable, timed out, refused the statement). Its message is short and safe for
 * a client; the driver's error, which may quote SQL or internals, is kept as `cause` for the log only.
 */
export class StoreError extends Error {
  override name = "StoreError";
  constructor(cause: unknown) {
    super("Database Error", { cause });
  }
}

/** The current time at MySQL `datetime` precision, so both implementations of a store answer alike. */
export function nowToTheSecond(): Date {
  return new Date(Math.floor(Date.now() / 1000) * 1000);
}
