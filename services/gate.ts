/**
 * The gateway: `npx tsx services/gate.ts [PORT]` (default 8000), `--timeout MS`, `--body-limit BYTES`,
 * `--status` (serve GET /_pilcrow/status), `--metrics` (serve GET /metrics), `--dashboard` (the live page at
 * /_pilcrow/), `--cors ORIGIN[,ORIGIN…]` (or `*`).
 */
import { GATE_OPTIONS, MESH_NODE_OPTIONS } from "../lib/cli/tables.ts";
import { parsePositiveInteger } from "../lib/config.ts";
import { startGateway } from "../lib/gateway/gateway.ts";
import { runMain } from "../lib/main.ts";
import { openNatsBus } from "../lib/mesh/nats/open.ts";
import { environment } from "../lib/runtime/mod.ts";
import { startTraceExport } from "../lib/trace/export.ts";

await runMain("gate", 8000, async (config, log, stopping) => {
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
  });
  return {
    address: gateway.address,
    mesh: gateway.mesh,
    async stop() {
      await gateway.close();
      await nats?.close();
      await traces?.close();
    },
  };
}, [...GATE_OPTIONS, ...MESH_NODE_OPTIONS]);
