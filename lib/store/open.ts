/**
 * Chooses the store: MySQL when a URL is set — `<SERVICE>_MYSQL_URL` (e.g. GOODS_MYSQL_URL) for one
 * service, else MYSQL_URL for all — and the embedded one otherwise, with a warning that says how to switch.
 */
import { parsePositiveInteger } from "../config.ts";
import type { Logger } from "../log.ts";
import { environment } from "../runtime/mod.ts";
import type { Store, TableName } from "./contract.ts";
import { memoryStore } from "./memory.ts";

export async function openStore(service: TableName, log: Logger): Promise<Store> {
  const url = environment(`${service.toUpperCase()}_MYSQL_URL`) ?? environment("MYSQL_URL");
  if (url) {
    const { mysqlStore } = await import("./mysql.ts");
    const poolSize = environment("MYSQL_POOL_SIZE");
    const store = await mysqlStore(url, [service], log, {
      poolSize: poolSize === undefined ? undefined : parsePositiveInteger(poolSize, "MYSQL_POOL_SIZE"),
    });
    log.info("store", store.description);
    return store;
  }
  log.warn(
    "store",
    "embedded: data is kept in memory and lost when this process stops;",
    "set MYSQL_URL=mysql://user:password@host:port/database to keep it in MySQL",
  );
  return memoryStore();
}
