/** The Distributor: `npx tsx services/distributor.ts [PORT]` (default 9000). */
import { requireGuardOffLoopback } from "../lib/config.ts";
import { startDistributor } from "../lib/distributor.ts";
import { runMain } from "../lib/main.ts";

await runMain("distributor", 9000, async (config, log) => {
  requireGuardOffLoopback(config);
  const distributor = await startDistributor({
    hostname: config.host,
    port: config.port,
    log,
    heartbeatMs: config.heartbeatMs,
    secret: config.secret,
    tcp: config.tcp,
  });
  log.info("listen", distributor.server.address);
  return { address: distributor.server.address, stop: () => distributor.close() };
});
