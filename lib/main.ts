/**
 * What every entry point in services/ shares: parse the command line, make the logger, start, print the
 * `listen` line, and stop cleanly on SIGINT/SIGTERM. A usage error exits 2 with a message, a start-up
 * failure (a port in use, say) exits 1 with one.
 */
import process from "node:process";
import { type CommonConfig, parseCommandLine, UsageError } from "./config.ts";
import { createLogger, type Logger } from "./log.ts";
import { exit, onShutdownSignal } from "./runtime/mod.ts";

type Options = Parameters<typeof parseCommandLine>[1];

const STOP_LIMIT_MS = 10_000;

export interface Running {
  /** Stops the process's work; the process exits when it resolves. */
  stop(): Promise<void>;
}

export async function runMain(
  name: string,
  defaultPort: number,
  start: (config: CommonConfig, log: Logger) => Promise<Running>,
  extraOptions: Options = {},
): Promise<void> {
  let config: CommonConfig;
  try {
    config = parseCommandLine(defaultPort, extraOptions, undefined, name);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${name}: ${error.message}\n`);
    return exit(2);
  }
  const log = createLogger({ name, format: config.logFormat, level: config.logLevel });
  let running: Running;
  try {
    running = await start(config, log);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`${name}: ${error.message}\n`);
      return exit(2);
    }
    log.error("failed to start", (error as Error).message);
    return exit(1);
  }
  let stopping = false;
  onShutdownSignal(async (signal) => {
    if (stopping) return exit(1);
    stopping = true;
    log.info("stopping", signal);
    try {
      // A stop that hangs (a peer or database that never answers) must not keep the process alive.
      await Promise.race([running.stop(), new Promise((resolve) => setTimeout(resolve, STOP_LIMIT_MS).unref())]);
    } catch (error) {
      log.error("error while stopping", (error as Error).message);
    }
    exit(0);
  });
}
