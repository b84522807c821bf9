/**
 * The launcher, `pilcrow up` (or `npm start`, `bun run services/up.ts`, `deno run -A services/up.ts`): runs the
 * distributor, the gateway and the goods, members and purchases services, and any `--service FILE` of yours, as
 * child processes on the same runtime (or the one `--runtime` names), prints their lines under their names,
 * restarts any that dies, and stops them all on Ctrl-C or SIGTERM, or when npm, which started it, is gone. The
 * book's chapter 10 did this with Node's `cluster`, one service at a time. Options: `pilcrow up --help`
 * (lib/cli/tables.ts). A usage error exits 2; a process that cannot start or be ready in time exits 1.
 */
import { statSync } from "node:fs";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { helpText, wantsHelp } from "../lib/cli/options.ts";
import { UsageError } from "../lib/config.ts";
import { type LaunchPlan, parseLaunchPlan, UP_OPTIONS, USAGE } from "../lib/launcher/plan.ts";
import { System } from "../lib/launcher/system.ts";
import { createLogger } from "../lib/log.ts";
import {
  commandLineArguments,
  environment,
  exit,
  type ListenAddress,
  onParentGone,
  onShutdownSignal,
  runtimeCommand,
  runtimeName,
} from "../lib/runtime/mod.ts";

// Before any child exists: a signal that came first would end the launcher and leave its children running.
const shutdown = new Promise<{ signal: string }>((resolve) => {
  onShutdownSignal((signal) => resolve({ signal }));
  // `npx pilcrow up`, or a script `pilcrow up` without `exec`: npm runs it through a shell, and a SIGTERM to npm
  // reaches only that shell, which dies without passing it on. Started so, the launcher stops with its parent.
  // Started otherwise (`nohup pilcrow up &`), it outlives the shell that started it, as asked.
  if (environment("npm_lifecycle_event") !== undefined || environment("npm_command") !== undefined) {
    onParentGone(() => resolve({ signal: "the parent process (npm) is gone" }));
  }
});

const args = commandLineArguments();
if (wantsHelp(args)) {
  process.stdout.write(helpText(USAGE, UP_OPTIONS));
  exit(0);
}
let plan: LaunchPlan;
try {
  plan = parseLaunchPlan(args, runtimeName, environment, process.cwd());
  for (const { file } of plan.nodes) if (file !== undefined) checkServiceFile(plan, file);
} catch (error) {
  if (!(error instanceof UsageError)) throw error;
  process.stderr.write(`pilcrow up: ${error.message}\npilcrow up --help lists the options.\n`);
  exit(2);
}

const log = createLogger({ name: "up", format: plan.logFormat, level: plan.logLevel });
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
else log.info(`${ending.signal}: stopping the gateway and the services${plan.mesh ? "" : ", then the distributor"}`);
await system.stop();
exit("reason" in ending ? 1 : 0);

function httpUrl({ address, family, port }: ListenAddress): string {
  return `http://${family === "IPv6" ? `[${address}]` : address}:${port}`;
}

/** Said once, before anything starts: a missing file, a directory, or a TypeScript file on Node with no tsx. */
function checkServiceFile({ runtime }: LaunchPlan, file: string): void {
  const stats = statSync(file, { throwIfNoEntry: false });
  if (stats === undefined) throw new UsageError(`--service: no such file ${file}`);
  if (!stats.isFile()) throw new UsageError(`--service: ${file} is not a file (a service is one .ts or .js file)`);
  try {
    runtimeCommand(runtime, file);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}
