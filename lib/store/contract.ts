/**
 * The store contract the three services use (SPEC §5 tables). The embedded store and MySQL each implement
 * it in one file, and one contract suite (tests/store-contract.test.ts) runs against both.
 */
export interface Goods {
  id: number;
  name: string;
  category: string;
  price: number;
  description: string;
}

export interface Member {
  id: number;
  username: string;
  /** The salted slow hash, never the password (lib/password.ts). */
  password: string;
}

export interface Purchase {
  id: number;
  userid: number;
  goodsid: number;
  /** Whole seconds, as MySQL's `datetime` keeps it. */
  date: Date;
}

/**
 * One page of a list that can grow: at most `limit` rows whose id is greater than `after`, in id order.
 * Either may be absent: without both, the whole list.
 */
export interface Page {
  limit?: number;
  after?: number;
}

export interface GoodsStore {
  add(goods: Omit<Goods, "id">): Promise<number>;
  /** In id order. */
  list(page?: Page): Promise<Goods[]>;
  remove(id: number): Promise<void>;
}

export interface MembersStore {
  /** Returns the new member's id, or undefined when the username is taken. */
  add(username: string, passwordHash: string): Promise<number | undefined>;
  find(username: string): Promise<Member | undefined>;
  remove(username: string): Promise<void>;
}

export interface PurchasesStore {
  /** Records a purchase at the current time. */
  add(userid: number, goodsid: number): Promise<number>;
  /** In id order. */
  listByUser(userid: number, page?: Page): Promise<Purchase[]>;
}

export type TableName = "goods" | "members" | "purchases";

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

export interface Store {
  /** A short description for the start-up log line, with no secret in it. */
  readonly description: string;
  readonly goods: GoodsStore;
  readonly members: MembersStore;
  readonly purchases: PurchasesStore;
  close(): Promise<void>;
}

/** The current time at MySQL `datetime` precision, so both stores answer alike. */
export function nowToTheSecond(): Date {
  return new Date(Math.floor(Date.now() / 1000) * 1000);
}
