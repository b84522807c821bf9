/**
 * Runs a service as a process — the one way to write one, for the shipped services and for anyone's:
 *
 *   await runService(goods, {
 *     port: 9010,
 *     async start(context) {
 *       const { store, close } = await openStore("goods", context, goodsStore);
 *       return { handlers: goodsHandlers(store), close };
 *     },
 *   });
 *
 * It brings the command line every entry point shares (port, --host, --distributor or --mesh, logs, the mesh secret,
 * TLS, --heartbeat), the refusal to listen off loopback without a secret or TLS, `--data-dir PATH`
 * (PILCROW_DATA_DIR: where openStore keeps the embedded store, default ./data), its own flags `--drain MS`
 * (PILCROW_DRAIN_MS: how long a stop waits for peers to let go) and `--max-in-flight N`
 * (PILCROW_MAX_IN_FLIGHT: requests handled at once before the next is refused as busy), and a clean stop on
 * SIGINT/SIGTERM: leave the mesh, drain, then close what `start` opened.
 */
import type { ParseArgsConfig } from "node:util";
import { type OptionTable, tableOf } from "../cli/options.ts";
import { MESH_NODE_OPTIONS, SERVICE_OPTIONS } from "../cli/tables.ts";
import {
  type CommonConfig,
  DEFAULT_DATA_DIR,
  parseDataDir,
  parseDuration,
  parsePositiveInteger,
  requireGuardOffLoopback,
} from "../config.ts";
import type { Contract } from "../contract/contract.ts";
import type { Logger } from "../log.ts";
import { LOGS_ROUTE, shipsLogs } from "../logs/settings.ts";
import { runMain } from "../main.ts";
import type { NatsBus } from "../mesh/nats/bus.ts";
import { openNatsBus } from "../mesh/nats/open.ts";
import { environment } from "../runtime/mod.ts";
import type { IdempotencyLedger } from "../store/idempotency.ts";
import { startTraceExport } from "../trace/export.ts";
import type { Handlers } from "./handlers.ts";
import { DEFAULT_IDEMPOTENCY_WINDOW_MS } from "./idempotency.ts";
import { DEFAULT_DRAIN_MS, startService } from "./kit.ts";

/**
 * What `--idempotency-window` may be. At least 1 s: a key is forgotten before a client could retry, so a smaller
 * value would silently turn keys off (0 at once); 1 s still lets a test watch a key expire. A real window
 * should be far longer than the gateway's timeout plus the client's wait before retrying. At most 30 days: keys
 * are kept in the service's database until the window ends, and a longer value is more likely a slip (seconds
 * for milliseconds, a zero too many) than a need.
 */
const IDEMPOTENCY_WINDOW_BOUNDS = { min: 1000, max: 30 * 24 * 60 * 60 * 1000 };

export interface ServiceDefinition<C extends Contract, U extends Contract = never> {
  /** The port when none is given on the command line (the first plain argument, or --port). */
  port: number;
  /** The contracts of the services this one calls: `call` is typed over their routes and reaches only them. */
  uses?: readonly U[];
  /** Flags of this service's own, read from `config.values` (parsed with node:util parseArgs). */
  flags?: OptionTable | NonNullable<ParseArgsConfig["options"]>;
  /** Opens what the service needs (its store, say) and returns its handlers, and how to close what it opened. */
  start(context: StartContext): Promise<StartedService<C, U>> | StartedService<C, U>;
}

export interface StartContext {
  config: CommonConfig;
  log: Logger;
  /** Where the embedded store keeps this service's SQLite file (`--data-dir`, PILCROW_DATA_DIR), or `:memory:`. */
  dataDir: string;
  /** Where idempotency keys are kept: set by openStore (docs/protocol.md §9); without it keys are ignored. */
  idempotency?: IdempotencyLedger;
}

export interface StartedService<C extends Contract, U extends Contract = never> {
  handlers: Handlers<C, U>;
  /** Runs after the service has stopped answering (the drain is over). */
  close?(): Promise<void>;
}

export function runService<C extends Contract, U extends Contract = never>(
  contract: C,
  definition: ServiceDefinition<C, U>,
): Promise<void> {
  return runMain(contract.name, definition.port, async (config, log, stopping) => {
    requireGuardOffLoopback(config);
    const drain = (config.values.drain as string | undefined) ?? environment("PILCROW_DRAIN_MS");
    const drainMs = drain === undefined ? DEFAULT_DRAIN_MS : parseDuration(drain, "drain");
    const maxInFlight = (config.values["max-in-flight"] as string | undefined) ?? environment("PILCROW_MAX_IN_FLIGHT");
    const dataDir = parseDataDir(
      (config.values["data-dir"] as string | undefined) ?? environment("PILCROW_DATA_DIR") ?? DEFAULT_DATA_DIR,
    );
    const window = (config.values["idempotency-window"] as string | undefined)
      ?? environment("PILCROW_IDEMPOTENCY_WINDOW_MS");
    const windowMs = window === undefined
      ? DEFAULT_IDEMPOTENCY_WINDOW_MS
      : parseDuration(window, "--idempotency-window (or PILCROW_IDEMPOTENCY_WINDOW_MS)", IDEMPOTENCY_WINDOW_BOUNDS);
    const context: StartContext = { config, log, dataDir };
    const traces = await startTraceExport(contract.name, log);
    const started = await definition.start(context);
    let nats: NatsBus | undefined;
    try {
      nats = await openNatsBus(config.mesh, log, contract.name, stopping);
      const service = await startService(contract, {
        handlers: started.handlers,
        uses: definition.uses,
        hostname: config.host,
        port: config.port,
        distributor: config.distributor,
        nats,
        secret: config.secret,
        tcp: config.tcp,
        heartbeatMs: config.heartbeatMs,
        log,
        idempotency: context.idempotency && { ledger: context.idempotency, windowMs },
        maxInFlight: maxInFlight === undefined ? undefined : parsePositiveInteger(maxInFlight, "max in flight"),
        alsoCalls: shipsLogs(config) ? [LOGS_ROUTE] : [],
      });
      return {
        address: service.address,
        mesh: service.mesh,
        async stop() {
          await service.close(drainMs);
          await nats?.close();
          await started.close?.();
          await traces?.close();
        },
      };
    } catch (error) {
      await nats?.close();
      await started.close?.();
      await traces?.close();
      throw error;
    }
  }, [...SERVICE_OPTIONS, ...MESH_NODE_OPTIONS, ...flagTable(definition.flags)]);
}

/** A service's own flags as a table: given as one (with help text), or as parseArgs options (listed without). */
function flagTable(flags: ServiceDefinition<Contract>["flags"]): OptionTable {
  if (flags === undefined) return [];
  return Array.isArray(flags) ? flags : tableOf(flags as NonNullable<ParseArgsConfig["options"]>);
}
