/**
 * The gateway on several cores (`--workers N`): this process starts N gateway processes on one port, each a full
 * member of the mesh (its own connections to the distributor and to every instance, or to NATS), restarts one that
 * dies (on the same port, with the launcher's back-off), and stops them all when it stops. It serves nothing itself.
 * How the workers share the port is the runtime's (lib/runtime: SO_REUSEPORT, or Node's cluster).
 *
 * Each worker stops by itself on SIGTERM or SIGINT, draining: no new connections, the requests in flight answered,
 * every keep-alive client told to reconnect (to another worker). This process then starts another in its place,
 * unless it was signalled too: a signal to the whole process group (Ctrl-C, systemd) stops everything.
 */
import process from "node:process";
import { parsePositiveInteger, UsageError } from "../config.ts";
import { Supervisor } from "../launcher/supervisor.ts";
import type { LogFormat, Logger } from "../log.ts";
import { type ListenAddress, tcpImplementation, workerStarter } from "../runtime/mod.ts";

/** Set in a worker's environment, to its number (1 to N): the process is a worker, not their supervisor. */
export const WORKER_VARIABLE = "PILCROW_GATE_WORKER";

/** More than a machine has cores: a slip (`--workers 80000`) must not start that many processes. */
export const MAX_WORKERS = 256;

/**
 * A worker waiting for NATS at start-up waits as long as it takes, as a single gateway does; the launcher's own
 * --ready-timeout bounds the whole gateway.
 */
const WORKER_READY_TIMEOUT_MS = 3_600_000;

/** `--workers` or PILCROW_WORKERS: 1 (the gateway alone) when neither is given. */
export function parseWorkerCount(text: string | undefined): number {
  if (text === undefined) return 1;
  const count = parsePositiveInteger(text, "--workers (or PILCROW_WORKERS)");
  if (count > MAX_WORKERS) throw new UsageError(`--workers must be at most ${MAX_WORKERS}, not ${text}`);
  return count;
}

export interface WorkersOptions {
  count: number;
  /** The gateway's entry point, which each worker runs. */
  file: string;
  /** This process's arguments: each worker is given them, and the port they share. */
  args: string[];
  hostname: string;
  /** 0: a free port, the same for all. */
  port: number;
  log: Logger;
  format: LogFormat;
  /** Added to each worker's environment. */
  env?: Record<string, string>;
  /** Aborted when a stop is asked for before every worker listens (one waiting for NATS, say). */
  stopping?: AbortSignal;
}

export interface Workers {
  /** Where they all listen. */
  readonly address: ListenAddress;
  /** From now on a worker that exits stays gone: they are being stopped, here or by a signal to all of them. */
  stopRestarting(): void;
  /** Stops every worker (each drains), and resolves once all have exited. */
  stop(): Promise<void>;
}

export async function startWorkers(options: WorkersOptions): Promise<Workers> {
  const { count, file, args, log, format } = options;
  let start;
  try {
    start = await workerStarter();
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  // A worker started on port 0 would get a port of its own: a free one is found first, then given to all. A port
  // given is tried alone first: SO_REUSEPORT would let the workers share it with whatever holds it already.
  const port = await portToShare(options.hostname, options.port);
  let gaveUp!: (reason: string) => void;
  const failed = new Promise<never>((_, reject) => gaveUp = (reason) => reject(new Error(reason)));
  const supervisors = Array.from({ length: count }, (_, index) =>
    new Supervisor({
      name: `worker ${index + 1}`,
      port,
      command: (port) => [...args, "--port", String(port)],
      spawn: (argv, env) => start(file, argv, { ...options.env, ...env, [WORKER_VARIABLE]: String(index + 1) }),
      cwd: process.cwd(),
      log,
      format,
      readyTimeoutMs: WORKER_READY_TIMEOUT_MS,
      gaveUp,
    }));
  const stopRestarting = () => supervisors.forEach((supervisor) => supervisor.stopRestarting());
  const stop = async () => {
    await Promise.all(supervisors.map((supervisor) => supervisor.stop()));
  };
  for (const supervisor of supervisors) supervisor.start();
  const stopped = new Promise<never>((_, reject) => {
    const abort = () => reject(new Error("asked to stop while the workers were starting"));
    if (options.stopping?.aborted) abort();
    else options.stopping?.addEventListener("abort", abort, { once: true });
  });
  try {
    const listening = Promise.all(supervisors.map((supervisor) => supervisor.listening));
    const [address] = await Promise.race([listening, failed, stopped]);
    if (!("port" in address)) throw new Error("a gateway worker listens on no port");
    return { address, stopRestarting, stop };
  } catch (error) {
    stopRestarting();
    await stop();
    throw error;
  }
}

/** The port the workers will share: `port` if nothing listens on it (else its EADDRINUSE), or a free one for 0. */
async function portToShare(hostname: string, port: number): Promise<number> {
  const listener = await tcpImplementation().listen({ hostname, port }, () => ({
    data() {},
    drain() {},
    close() {},
  }));
  await listener.close();
  return listener.address.port;
}
