/**
 * The gateway: `npx tsx services/gate.ts [PORT]` (default 8000), `--timeout MS`, `--body-limit BYTES`,
 * `--status` (serve GET /_pilcrow/status), `--metrics` (serve GET /metrics), `--dashboard` (the live page at
 * /_pilcrow/), `--cors ORIGIN[,ORIGIN…]` (or `*`), `--workers N` (N gateway processes on the port).
 */
import { fileURLToPath } from "node:url";
import { GATE_OPTIONS, MESH_NODE_OPTIONS } from "../lib/cli/tables.ts";
import { type CommonConfig, parsePositiveInteger } from "../lib/config.ts";
import { dashboardLink, dashboardToken, startGateway } from "../lib/gateway/gateway.ts";
import { parseWorkerCount, startWorkers, WORKER_VARIABLE, type Workers } from "../lib/gateway/workers.ts";
import { type Logger, STAYS_LOCAL } from "../lib/log.ts";
import { runMain, type Running } from "../lib/main.ts";
import { openNatsBus } from "../lib/mesh/nats/open.ts";
import { commandLineArguments, environment, exit, onShutdownSignal } from "../lib/runtime/mod.ts";
import { startTraceExport } from "../lib/trace/export.ts";

await runMain("gate", 8000, async (config, log, stopping) => {
  const worker = environment(WORKER_VARIABLE) !== undefined;
  const workers = parseWorkerCount((config.values.workers as string | undefined) ?? environment("PILCROW_WORKERS"));
  if (workers > 1 && !worker) return superviseWorkers(workers, config, log, stopping);
  // A worker also stops by itself on SIGTERM or SIGINT (lib/gateway/workers.ts), which its supervisor leaves to it.
  // Listened for before it listens: Bun ignores a handler added later (lib/main.ts).
  let running: Running | undefined;
  // Asked for by a signal and by the supervisor closing stdin alike: done once.
  let stopped: Promise<void> | undefined;
  if (worker) {
    onShutdownSignal(async (signal) => {
      if (stopped === undefined) log.info("stopping", signal);
      await running?.stop();
      exit(0);
    });
  }
  const timeout = (config.values.timeout as string | undefined) ?? environment("PILCROW_TIMEOUT_MS");
  const bodyLimit = config.values["body-limit"] as string | undefined;
  const traces = await startTraceExport("gate", log);
  const nats = await openNatsBus(config.mesh, log, "gate", stopping);
  // On NATS, the gateway also routes to a distributor's mesh when one is named: how a team moves over.
  const distributorNamed = config.values.distributor !== undefined || environment("PILCROW_DISTRIBUTOR") !== undefined;
  const gateway = await startGateway({
    hostname: config.host,
    port: config.port,
    distributor: nats && !distributorNamed ? undefined : config.distributor,
    nats,
    log,
    timeoutMs: timeout === undefined ? undefined : parsePositiveInteger(timeout, "timeout"),
    bodyLimitBytes: bodyLimit === undefined ? undefined : parsePositiveInteger(bodyLimit, "body limit"),
    heartbeatMs: config.heartbeatMs,
    secret: config.secret,
    tcp: config.tcp,
    status: config.values.status === true || environment("PILCROW_STATUS") === "1",
    metrics: config.values.metrics === true || environment("PILCROW_METRICS") === "1",
    metricsToken: environment("PILCROW_METRICS_TOKEN") || undefined,
    dashboard: config.values.dashboard === true || environment("PILCROW_DASHBOARD") === "1"
      ? { token: environment("PILCROW_DASHBOARD_TOKEN") }
      : undefined,
    corsOrigins: ((config.values.cors as string | undefined) ?? environment("PILCROW_CORS"))?.split(",").map((origin) =>
      origin.trim()
    ).filter(Boolean),
    worker,
  });
  running = {
    address: gateway.address,
    mesh: gateway.mesh,
    stop: () =>
      stopped ??= (async () => {
        await gateway.close();
        await nats?.close();
        await traces?.close();
      })(),
  };
  return running;
}, [...GATE_OPTIONS, ...MESH_NODE_OPTIONS]);

/** `--workers N`: this process starts and watches N gateways on its port (lib/gateway/workers.ts). */
async function superviseWorkers(
  count: number,
  config: CommonConfig,
  log: Logger,
  stopping: AbortSignal,
): Promise<Running> {
  // One live-page token for all: a page's requests and its cookie reach any worker.
  const given = environment("PILCROW_DASHBOARD_TOKEN");
  const dashboard = config.values.dashboard === true || environment("PILCROW_DASHBOARD") === "1";
  const token = dashboard ? dashboardToken(config.host, given) : undefined;
  // Under the launcher this process leaves signals to it (lib/main.ts), but a signal that reached it reached the
  // workers too (their process group): they stop, and must not be started again. Listened for before they start:
  // Bun ignores a handler added later (lib/main.ts), and a worker may stop by the signal while still starting.
  let started: Workers | undefined;
  let signalled = false;
  onShutdownSignal(() => {
    signalled = true;
    started?.stopRestarting();
  });
  const workers = await startWorkers({
    count,
    file: fileURLToPath(import.meta.url),
    args: commandLineArguments(),
    hostname: config.host,
    port: config.port,
    log,
    format: config.logFormat,
    env: token === undefined ? {} : { PILCROW_DASHBOARD_TOKEN: token },
    stopping,
  });
  started = workers;
  if (signalled) workers.stopRestarting();
  if (token !== undefined && token !== given) {
    // Its token is a secret: the line stays in this node's own log (lib/gateway/gateway.ts).
    log.child({ [STAYS_LOCAL]: true }).info("dashboard", dashboardLink(workers.address, token));
  }
  return { address: workers.address, stop: () => workers.stop() };
}
