/** Runs a business service as a process: command line, store, listen, register, clean stop. */
import { parseDuration, parsePositiveInteger, requireGuardOffLoopback } from "../config.ts";
import type { Logger } from "../log.ts";
import { runMain } from "../main.ts";
import { environment } from "../runtime/mod.ts";
import type { Store, TableName } from "../store/contract.ts";
import { openStore } from "../store/open.ts";
import { DEFAULT_DRAIN_MS, type Route, startService } from "./kit.ts";

/**
 * The service's name is also the one table it keeps (SPEC §5). Its own flags: `--drain MS` (PILCROW_DRAIN_MS),
 * how long a stop waits for gateways to let go; `--max-in-flight N` (PILCROW_MAX_IN_FLIGHT), the requests
 * handled at once before the next is refused as busy.
 */
export function runService(
  name: TableName,
  defaultPort: number,
  routes: (store: Store, log: Logger) => Record<string, Route>,
) {
  return runMain(name, defaultPort, async (config, log) => {
    requireGuardOffLoopback(config);
    const drain = (config.values.drain as string | undefined) ?? environment("PILCROW_DRAIN_MS");
    const drainMs = drain === undefined ? DEFAULT_DRAIN_MS : parseDuration(drain, "drain");
    const maxInFlight = (config.values["max-in-flight"] as string | undefined) ?? environment("PILCROW_MAX_IN_FLIGHT");
    const store = await openStore(name, log);
    const service = await startService({
      name,
      routes: routes(store, log),
      hostname: config.host,
      port: config.port,
      distributor: config.distributor,
      secret: config.secret,
      tcp: config.tcp,
      log,
      maxInFlight: maxInFlight === undefined ? undefined : parsePositiveInteger(maxInFlight, "max in flight"),
    });
    return {
      async stop() {
        await service.close(drainMs);
        await store.close();
      },
    };
  }, { drain: { type: "string" }, "max-in-flight": { type: "string" } });
}
