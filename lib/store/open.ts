/**
 * Opens a service's store: on MySQL when a URL is set — `<SERVICE>_MYSQL_URL` (e.g. GOODS_MYSQL_URL) for one
 * service, else MYSQL_URL for all — and otherwise embedded, on SQLite: `<data dir>/<service>.sqlite`, shared by
 * every instance of the service on this machine and kept across restarts (lib/store/sqlite.ts).
 */
import { IN_MEMORY, parsePositiveInteger } from "../config.ts";
import type { Logger } from "../log.ts";
import { environment } from "../runtime/mod.ts";
import type { IdempotencyLedger } from "./idempotency.ts";
import type { SqlDatabase } from "./sql.ts";

export interface OpenedStore<S> {
  readonly store: S;
  /** For the start-up log line; it holds no secret. */
  readonly description: string;
  /** Where the service keeps idempotency keys (lib/store/idempotency.ts), when its database can. */
  readonly idempotency?: IdempotencyLedger;
  close(): Promise<void>;
}

/** What openStore needs of a service's start: its log, and where the embedded store lives (StartContext has both). */
export interface StoreContext {
  log: Logger;
  /** A directory (relative to the current directory) or `:memory:`, as `--data-dir` / PILCROW_DATA_DIR give it. */
  dataDir: string;
  /**
   * Set by openStore to the opened database's ledger: the kit keeps idempotency keys there (docs/protocol.md §9),
   * so every service whose store openStore opens honours them without a line of its own.
   */
  idempotency?: IdempotencyLedger;
}

/**
 * Opens the service's database and builds its store on it with `storeOn` — the service's one implementation,
 * which prepares its tables (`db.prepareTable`) and then answers from them, on SQLite and MySQL alike.
 */
export async function openStore<S>(
  service: string,
  context: StoreContext,
  storeOn: (db: SqlDatabase) => Promise<S>,
): Promise<OpenedStore<S>> {
  const { log, dataDir } = context;
  const url = environment(`${service.toUpperCase()}_MYSQL_URL`) ?? environment("MYSQL_URL");
  if (url) {
    // Loaded only here: a service on the embedded store never loads the MySQL driver.
    const { openMysql } = await import("./mysql.ts");
    const poolSize = environment("MYSQL_POOL_SIZE");
    const opened = await openMysql(url, log, storeOn, {
      poolSize: poolSize === undefined ? undefined : parsePositiveInteger(poolSize, "MYSQL_POOL_SIZE"),
    });
    log.info("store", opened.description);
    context.idempotency = opened.idempotency;
    return opened;
  }
  // Loaded only here: a service on MySQL never loads SQLite (on Node, a native addon).
  const { openSqliteStore } = await import("./sqlite.ts");
  const opened = await openSqliteStore(dataDir, service, storeOn);
  if (dataDir === IN_MEMORY) {
    log.warn("store", `${opened.description}: every instance has its own, and all of it is lost at exit`);
  } else {
    log.info("store", opened.description);
  }
  context.idempotency = opened.idempotency;
  return opened;
}
