/**
 * The launcher: `npx tsx services/up.ts` (or `bun run services/up.ts`, `deno run -A services/up.ts`) runs the
 * distributor, the gateway and the goods, members and purchases services as child processes on the same runtime
 * (or the one `--runtime` names), prints their lines under their names, restarts any that dies, and stops them all
 * on Ctrl-C or SIGTERM. The book's chapter 10 did this with Node's `cluster`, one service at a time.
 * Options: see USAGE in lib/launcher/plan.ts. A usage error exits 2; a process that cannot start exits 1.
 */
import process from "node:process";
import { fileURLToPath } from "node:url";
import { UsageError } from "../lib/config.ts";
import { type LaunchPlan, parseLaunchPlan, USAGE } from "../lib/launcher/plan.ts";
import { System } from "../lib/launcher/system.ts";
import { createLogger } from "../lib/log.ts";
import { commandLineArguments, exit, type ListenAddress, onShutdownSignal, runtimeName } from "../lib/runtime/mod.ts";

let plan: LaunchPlan;
try {
  plan = parseLaunchPlan(commandLineArguments(), runtimeName);
} catch (error) {
  if (!(error instanceof UsageError)) throw error;
  process.stderr.write(`up: ${error.message}\n${USAGE}\n`);
  exit(2);
}

// Before any child exists: a signal that came first would end the launcher and leave its children running.
const shutdown = new Promise<{ signal: string }>((resolve) => onShutdownSignal((signal) => resolve({ signal })));
// The launcher's own lines are always human: `--log` is the children's format, and their lines carry it.
const log = createLogger({ name: "up" });
// This file's own extension: .ts from source, .js when built (dist/services/up.js runs dist/services/goods.js).
const extension = import.meta.url.slice(import.meta.url.lastIndexOf("."));
const system = new System(plan, {
  entryPoint: (role) => fileURLToPath(new URL(`${role}${extension}`, import.meta.url)),
  cwd: fileURLToPath(new URL("..", import.meta.url)),
  log,
});
system.up.then((gateway) => log.info(`Pilcrow is up: gateway on ${httpUrl(gateway)}`));

const ending = await Promise.race([shutdown, system.failed.then((reason) => ({ reason }))]);
if ("reason" in ending) log.error(`giving up: ${ending.reason}; stopping everything`);
else log.info(`${ending.signal}: stopping the gateway and the services, then the distributor`);
await system.stop();
exit("reason" in ending ? 1 : 0);

function httpUrl({ address, family, port }: ListenAddress): string {
  return `http://${family === "IPv6" ? `[${address}]` : address}:${port}`;
}
