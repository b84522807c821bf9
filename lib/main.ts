/**
 * What every entry point in services/ shares: parse the command line (`--help` prints the options), make the
 * logger, start, and stop cleanly on SIGINT/SIGTERM. A usage error exits 2 with a message, a start-up failure (a
 * port in use, say) exits 1 with one. Started by the launcher (PILCROW_SUPERVISED set to a nonce), it also reports
 * readiness on a control line (lib/launcher/readiness.ts) and stops when its stdin, a pipe from the launcher, ends:
 * that is how the launcher stops it, and a launcher killed outright leaves no process behind. With --log-to-mesh
 * (lib/logs/settings.ts) its lines also go to the logs service, through the mesh start() returns: queued from the
 * first line, sent once it has joined, and sent what is left when it stops (for at most SHIP_ON_STOP_LIMIT_MS).
 */
import process from "node:process";
import { helpText, type OptionTable, type ParseArgsOptions, tableOf, wantsHelp } from "./cli/options.ts";
import { COMMON_OPTIONS } from "./cli/tables.ts";
import { type CommonConfig, parseCommandLine, UsageError } from "./config.ts";
import { readyLine, type ReceivesAt, SUPERVISED_VARIABLE } from "./launcher/readiness.ts";
import { createLogger, type Logger } from "./log.ts";
import { asksToShipLogs, keepsLinesLocal, shipsLogs } from "./logs/settings.ts";
import { LogShipper } from "./logs/shipper.ts";
import type { MeshCore } from "./mesh/core.ts";
import { commandLineArguments, environment, exit, onInputEnd, onShutdownSignal } from "./runtime/mod.ts";

const STOP_LIMIT_MS = 10_000;
/** How long a stop may spend sending the lines still queued for the logs service, before it stops the node. */
const SHIP_ON_STOP_LIMIT_MS = 1000;

export interface Running {
  /**
   * Where the process receives requests — the address it listens on, or its subject on the NATS mesh: reported to
   * the launcher when it is ready (a process without one is never).
   */
  readonly address?: ReceivesAt;
  /** Its place in the mesh, once joined: where its log lines go with --log-to-mesh. */
  readonly mesh?: MeshCore;
  /** Stops the process's work; the process exits when it resolves. */
  stop(): Promise<void>;
}

export async function runMain(
  name: string,
  defaultPort: number,
  /** `stopping` is aborted when a stop is asked for before start-up ends (a node waiting for NATS, say). */
  start: (config: CommonConfig, log: Logger, stopping: AbortSignal) => Promise<Running>,
  /** The entry's own options: a table, or parseArgs options (then listed in --help without a description). */
  extra: OptionTable | ParseArgsOptions = [],
): Promise<void> {
  const extraOptions = Array.isArray(extra) ? extra : tableOf(extra as ParseArgsOptions);
  const args = commandLineArguments();
  if (wantsHelp(args)) {
    process.stdout.write(helpText(`${name} [PORT] [options]`, [...COMMON_OPTIONS, ...extraOptions]));
    return exit(0);
  }
  let config: CommonConfig;
  try {
    config = parseCommandLine(defaultPort, extraOptions, args, name);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    return usageError(name, error);
  }
  const logOptions = { name, format: config.logFormat, level: config.logLevel };
  // The shipper's own lines go to a logger without it: a line about shipping must not be shipped (shipper.ts).
  const shipper = shipsLogs(config) ? new LogShipper({ log: createLogger(logOptions) }) : undefined;
  const log = createLogger({ ...logOptions, also: shipper?.push });
  if (keepsLinesLocal() && asksToShipLogs(config)) {
    log.info("--log-to-mesh ignored", "the logs service writes its own lines here only: never to itself");
  }
  // Listened for before anything starts: a signal during start-up stops the process once started. (Bun also
  // ignores a SIGTERM handler registered after the process has listened and written to stdout: it then dies
  // by the signal, skipping the stop.)
  let stopRequested: string | undefined;
  const starting = new AbortController();
  let stop: (why: string) => unknown = (why) => {
    stopRequested ??= why;
    starting.abort();
  };
  // Ctrl-C in a terminal sends SIGINT to the launcher and to every child at once, and systemd (KillMode=control-
  // group), `timeout` or `kill -- -PGID` send SIGTERM so: a supervised child leaves both to the launcher, which
  // stops the gateway and the services first and the distributor last, each by closing its stdin.
  const nonce = environment(SUPERVISED_VARIABLE) ?? "";
  const supervised = nonce !== "";
  onShutdownSignal((signal) => supervised ? undefined : stop(signal));
  if (supervised) onInputEnd(() => stop("stdin closed: the launcher stops it, or is gone"));
  let running: Running;
  try {
    running = await start(config, log, starting.signal);
  } catch (error) {
    if (error instanceof UsageError) return usageError(name, error);
    if (stopRequested !== undefined) {
      // Asked to stop while starting: nothing to clean up, and no failure.
      log.info("stopping", stopRequested);
      return exit(0);
    }
    log.error("failed to start", (error as Error).message);
    return exit(1);
  }
  if (shipper) startShipping(shipper, running, name, log);
  let stopping = false;
  stop = async (why: string) => {
    if (stopping) return exit(1);
    stopping = true;
    log.info("stopping", why);
    // Before the node stops, while its mesh still reaches the logs service; its lines from here on stay local.
    await shipper?.close(SHIP_ON_STOP_LIMIT_MS);
    try {
      // A stop that hangs (a peer or database that never answers) must not keep the process alive.
      await Promise.race([running.stop(), new Promise((resolve) => setTimeout(resolve, STOP_LIMIT_MS).unref())]);
    } catch (error) {
      log.error("error while stopping", (error as Error).message);
    }
    exit(0);
  };
  if (stopRequested !== undefined) await stop(stopRequested);
  if (supervised && running.address) process.stdout.write(readyLine(nonce, running.address));
}

/** Hands the node's mesh to the shipper, named as the logs service will label its lines; a node with none keeps its lines. */
function startShipping(shipper: LogShipper, running: Running, name: string, log: Logger): void {
  if (!running.mesh) {
    log.info("--log-to-mesh ignored", `${name} is not in the mesh: its lines stay here`);
    void shipper.close(0);
    return;
  }
  const address = running.address;
  shipper.node = address === undefined
    ? name
    : "subject" in address
    ? `${name}@${address.subject}`
    : `${name}@${address.family === "IPv6" ? `[${address.address}]` : address.address}:${address.port}`;
  shipper.attach(running.mesh);
}

function usageError(name: string, error: UsageError): never {
  process.stderr.write(`${name}: ${error.message}\n${name} --help lists the options.\n`);
  return exit(2);
}
