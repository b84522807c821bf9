/** Runs a business service as a process: command line, store, listen, register, clean stop. */
import type { Logger } from "../log.ts";
import { runMain } from "../main.ts";
import type { Store, TableName } from "../store/contract.ts";
import { openStore } from "../store/open.ts";
import { type Route, startService } from "./kit.ts";

/** The service's name is also the one table it keeps (SPEC §5). */
export function runService(
  name: TableName,
  defaultPort: number,
  routes: (store: Store, log: Logger) => Record<string, Route>,
) {
  return runMain(name, defaultPort, async (config, log) => {
    const store = await openStore(name, log);
    const service = await startService({
      name,
      routes: routes(store, log),
      hostname: config.host,
      port: config.port,
      distributor: config.distributor,
      log,
    });
    return {
      async stop() {
        await service.close();
        await store.close();
      },
    };
  });
}
