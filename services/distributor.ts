/** The Distributor: `npx tsx services/distributor.ts [PORT]` (default 9000). */
import { startDistributor } from "../lib/distributor.ts";
import { runMain } from "../lib/main.ts";

await runMain("distributor", 9000, async (config, log) => {
  const distributor = await startDistributor({
    hostname: config.host,
    port: config.port,
    log,
    heartbeatMs: config.heartbeatMs,
  });
  log.info("listen", distributor.server.address);
  return { stop: () => distributor.close() };
});
