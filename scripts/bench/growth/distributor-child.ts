/**
 * The distributor of the mesh-growth figures (lib/distributor.ts, in a process of its own so that its CPU time
 * is its own): `… distributor-child.ts`, on a free loopback port, heartbeats off (simulated nodes answer no
 * pings: what is measured is what changes cost). Prints a JSON `listen` line; on SIGUSR2 a `cpu` line with the
 * microseconds of CPU it has used so far (getrusage, where /proc/PID/stat counts in 10 ms ticks).
 */
import process from "node:process";
import { startDistributor } from "../../../lib/distributor.ts";
import { createLogger } from "../../../lib/log.ts";
import { exit, onShutdownSignal } from "../../../lib/runtime/mod.ts";

const log = createLogger({ name: "growth-distributor", format: "json" });
const distributor = await startDistributor({ hostname: "127.0.0.1", port: 0, log, heartbeatMs: 0 });
process.on("SIGUSR2", () => {
  const { user, system } = process.cpuUsage();
  log.info("cpu", { micros: user + system });
});
onShutdownSignal(() => void distributor.close().then(() => exit(0)));
log.info("listen", distributor.server.address);
