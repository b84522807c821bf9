/**
 * `npm run faults -- [--seconds 60] [--runtime node|bun|deno] [--seed N] [--store sqlite|mysql] [--retry]`: the
 * fault-injection run of tests/support/fault-injection.ts, printing its figures. The embedded SQLite store by
 * default; `--store mysql` needs MySQL (MYSQL_URL, or MariaDB on 127.0.0.1:3306 with root and no password).
 * `--retry`: every POST carries an Idempotency-Key and is sent again until it succeeds; rows are counted per key.
 * Exits 1 if a request hung, an acknowledged write was lost, or (with --retry) a key has no row or two.
 */
import { parseArgs } from "node:util";
import type { RuntimeName } from "../lib/runtime/mod.ts";
import { formatReport, runFaultInjection } from "../tests/support/fault-injection.ts";
import { mysqlServerUrl } from "../tests/support/mysql.ts";

const { values } = parseArgs({
  options: {
    seconds: { type: "string" },
    runtime: { type: "string" },
    seed: { type: "string" },
    store: { type: "string" },
    retry: { type: "boolean" },
  },
});
const store = values.store ?? "sqlite";
if (store !== "sqlite" && store !== "mysql") {
  console.error(`--store must be sqlite or mysql, not ${store}`);
  process.exit(2);
}
if (store === "mysql" && !mysqlServerUrl) {
  console.error("--store mysql needs MySQL: set MYSQL_URL=mysql://user:password@host:port/database");
  process.exit(2);
}
const report = await runFaultInjection({
  durationMs: Number(values.seconds ?? 60) * 1000,
  runtime: values.runtime as RuntimeName | undefined,
  seed: values.seed === undefined ? undefined : Number(values.seed),
  store,
  retry: values.retry ?? false,
  log: (line) => console.log(line),
});
console.log(`\n${formatReport(report)}`);
const clean = report.hung === 0 && report.acknowledgedWritesLost === 0 && report.gatewayInFlightAfter === 0
  && report.gaveUp === 0 && report.duplicates === 0 && report.lost === 0;
process.exit(clean ? 0 : 1);
