/**
 * Opens a service's store: on MySQL when a URL is set — `<SERVICE>_MYSQL_URL` (e.g. GOODS_MYSQL_URL) for one
 * service, else MYSQL_URL for all — and embedded otherwise, with a warning that says how to switch.
 */
import { parsePositiveInteger } from "../config.ts";
import type { Logger } from "../log.ts";
import { environment } from "../runtime/mod.ts";
import type { MysqlDatabase } from "./sql.ts";

/** A service's two implementations of its store. */
export interface StoreBackends<S> {
  /** Kept in memory (MemoryTable): lost when the process stops. */
  memory(): S;
  /** On MySQL: prepares its tables (`db.prepareTable`), then answers from them. */
  mysql(db: MysqlDatabase): Promise<S>;
}

export interface OpenedStore<S> {
  readonly store: S;
  /** For the start-up log line; it holds no secret. */
  readonly description: string;
  close(): Promise<void>;
}

export async function openStore<S>(service: string, log: Logger, backends: StoreBackends<S>): Promise<OpenedStore<S>> {
  const url = environment(`${service.toUpperCase()}_MYSQL_URL`) ?? environment("MYSQL_URL");
  if (url) {
    // Loaded only here: a service on the embedded store never loads the MySQL driver.
    const { openMysql } = await import("./mysql.ts");
    const poolSize = environment("MYSQL_POOL_SIZE");
    const opened = await openMysql(url, log, backends.mysql, {
      poolSize: poolSize === undefined ? undefined : parsePositiveInteger(poolSize, "MYSQL_POOL_SIZE"),
    });
    log.info("store", opened.description);
    return opened;
  }
  log.warn(
    "store",
    "embedded: data is kept in memory and lost when this process stops;",
    "set MYSQL_URL=mysql://user:password@host:port/database to keep it in MySQL",
  );
  return { store: backends.memory(), description: "embedded (in memory)", close: () => Promise.resolve() };
}
