/**
 * `npm run faults -- [--seconds 60] [--runtime node|bun|deno] [--seed N]`: the fault-injection run of
 * tests/support/fault-injection.ts, printing its figures. Needs MySQL (MYSQL_URL, or MariaDB on
 * 127.0.0.1:3306 with root and no password). Exits 1 if a request hung or an acknowledged write was lost.
 */
import { parseArgs } from "node:util";
import type { RuntimeName } from "../lib/runtime/mod.ts";
import { formatReport, runFaultInjection } from "../tests/support/fault-injection.ts";
import { mysqlServerUrl } from "../tests/support/mysql.ts";

const { values } = parseArgs({
  options: { seconds: { type: "string" }, runtime: { type: "string" }, seed: { type: "string" } },
});
if (!mysqlServerUrl) {
  console.error("fault injection needs MySQL: set MYSQL_URL=mysql://user:password@host:port/database");
  process.exit(2);
}
const report = await runFaultInjection({
  durationMs: Number(values.seconds ?? 60) * 1000,
  runtime: values.runtime as RuntimeName | undefined,
  seed: values.seed === undefined ? undefined : Number(values.seed),
  log: (line) => console.log(line),
});
console.log(`\n${formatReport(report)}`);
process.exit(report.hung === 0 && report.acknowledgedWritesLost === 0 && report.gatewayInFlightAfter === 0 ? 0 : 1);
