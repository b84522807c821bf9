/** Chooses the store: the embedded one, with a warning that says how to keep data in MySQL instead. */
import type { Logger } from "../log.ts";
import type { Store } from "./contract.ts";
import { memoryStore } from "./memory.ts";

export function openStore(log: Logger): Promise<Store> {
  log.warn(
    "store",
    "embedded: data is kept in memory and lost when this process stops;",
    "set MYSQL_URL=mysql://user:password@host:port/database to keep it in MySQL",
  );
  return Promise.resolve(memoryStore());
}
