/** Runs a business service as a process: command line, store, listen, register, clean stop. */
import { parseDuration, requireSecretOffLoopback } from "../config.ts";
import type { Logger } from "../log.ts";
import { runMain } from "../main.ts";
import { environment } from "../runtime/mod.ts";
import type { Store, TableName } from "../store/contract.ts";
import { openStore } from "../store/open.ts";
import { DEFAULT_DRAIN_MS, type Route, startService } from "./kit.ts";

/** The service's name is also the one table it keeps (SPEC §5). */
export function runService(
  name: TableName,
  defaultPort: number,
  routes: (store: Store, log: Logger) => Record<string, Route>,
) {
  return runMain(name, defaultPort, async (config, log) => {
    requireSecretOffLoopback(config);
    const drain = (config.values.drain as string | undefined) ?? environment("PILCROW_DRAIN_MS");
    const drainMs = drain === undefined ? DEFAULT_DRAIN_MS : parseDuration(drain, "drain");
    const store = await openStore(name, log);
    const service = await startService({
      name,
      routes: routes(store, log),
      hostname: config.host,
      port: config.port,
      distributor: config.distributor,
      secret: config.secret,
      log,
    });
    return {
      async stop() {
        await service.close(drainMs);
        await store.close();
      },
    };
  }, { drain: { type: "string" } });
}
