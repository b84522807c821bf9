/**
 * The gateway: `npx tsx services/gate.ts [PORT]` (default 8000), `--timeout MS`, `--body-limit BYTES`,
 * `--status` (serve GET /_pilcrow/status), `--cors ORIGIN[,ORIGIN…]` (or `*`).
 */
import { GATE_OPTIONS } from "../lib/cli/tables.ts";
import { parsePositiveInteger } from "../lib/config.ts";
import { startGateway } from "../lib/gateway/gateway.ts";
import { runMain } from "../lib/main.ts";
import { environment } from "../lib/runtime/mod.ts";

await runMain("gate", 8000, async (config, log) => {
  const timeout = (config.values.timeout as string | undefined) ?? environment("PILCROW_TIMEOUT_MS");
  const bodyLimit = config.values["body-limit"] as string | undefined;
  const gateway = await startGateway({
    hostname: config.host,
    port: config.port,
    distributor: config.distributor,
    log,
    timeoutMs: timeout === undefined ? undefined : parsePositiveInteger(timeout, "timeout"),
    bodyLimitBytes: bodyLimit === undefined ? undefined : parsePositiveInteger(bodyLimit, "body limit"),
    heartbeatMs: config.heartbeatMs,
    secret: config.secret,
    tcp: config.tcp,
    status: config.values.status === true || environment("PILCROW_STATUS") === "1",
    corsOrigins: ((config.values.cors as string | undefined) ?? environment("PILCROW_CORS"))?.split(",").map((origin) =>
      origin.trim()
    ).filter(Boolean),
  });
  return { address: gateway.address, stop: () => gateway.close() };
}, GATE_OPTIONS);
