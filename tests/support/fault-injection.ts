/**
 * Fault injection: a steady load through the gateway while instances and the distributor are killed
 * (SIGKILL), frozen (SIGSTOP), stopped gracefully (SIGTERM) and restarted. It counts what the clients saw:
 * requests sent, succeeded, failed by status, hung (no answer at all — must be 0), and acknowledged writes
 * lost (a POST answered with success whose row is not in the database afterwards — must be 0).
 * Runs on MySQL, so that every goods instance shares the rows and a killed one loses nothing it acknowledged.
 */
import type { RuntimeName } from "../../lib/runtime/mod.ts";
import { createTestDatabase } from "./mysql.ts";
import { delay, type RunningProcess, startProcess, stopAll } from "./processes.ts";
import { call, startSystem, uniformMesh, waitForInstances } from "./system.ts";

export interface FaultOptions {
  durationMs: number;
  runtime?: RuntimeName;
  workers?: number;
  /** Seed of the fault schedule, so a run can be repeated. */
  seed?: number;
  log?: (line: string) => void;
}

export interface FaultReport {
  runtime: RuntimeName;
  durationMs: number;
  sent: number;
  succeeded: number;
  failedByStatus: Record<string, number>;
  hung: number;
  acknowledgedWrites: number;
  acknowledgedWritesLost: number;
  faults: string[];
  gatewayInFlightAfter: number;
}

/** A client-side limit far above the gateway's timeout: a request still unanswered then is hung. */
const HUNG_AFTER_MS = 10_000;
const GATEWAY_TIMEOUT_MS = 2000;
const HEARTBEAT_MS = 300;
const MIN_FAULTS = 4;

function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

export async function runFaultInjection(options: FaultOptions): Promise<FaultReport> {
  const runtime = options.runtime ?? uniformMesh().services;
  const log = options.log ?? (() => {});
  const random = prng(options.seed ?? 1);
  const database = await createTestDatabase("faults");
  const heartbeat = ["--heartbeat", String(HEARTBEAT_MS)];
  const system = await startSystem({
    runtime,
    services: ["goods", "purchases"],
    env: { MYSQL_URL: database.url },
    distributorArgs: heartbeat,
    gateArgs: [...heartbeat, "--status", "--timeout", String(GATEWAY_TIMEOUT_MS)],
  });
  const goods: RunningProcess[] = [system.services.get("goods")!];
  let distributor = system.distributor;
  const faults: string[] = [];
  const report: FaultReport = {
    runtime,
    durationMs: options.durationMs,
    sent: 0,
    succeeded: 0,
    failedByStatus: {},
    hung: 0,
    acknowledgedWrites: 0,
    acknowledgedWritesLost: 0,
    faults,
    gatewayInFlightAfter: -1,
  };
  const acknowledged: string[] = [];
  let stopping = false;
  try {
    const from = system.gate.entries.length;
    goods.push(await system.startService("goods"));
    await waitForInstances(system, 1, from);

    const worker = async (id: number) => {
      for (let n = 0; !stopping; n++) {
        const name = `w${id}-${n}`;
        const [method, path, body] = n % 3 === 2
          ? ["GET", "/purchases?userid=1"]
          : n % 3 === 1
          ? ["POST", "/purchases", { userid: 1, goodsid: n }]
          : ["POST", "/goods", { name, category: "faults", price: n, description: "d" }];
        report.sent++;
        const outcome = await Promise.race([
          call(system, method, path, body).catch((error: Error) => ({
            status: `client error ${error.message}`,
            body: {},
          })),
          delay(HUNG_AFTER_MS).then(() => undefined),
        ]);
        if (!outcome) {
          report.hung++;
          continue;
        }
        const ok = outcome.status === 200 && outcome.body?.errorcode === 0;
        if (ok) {
          report.succeeded++;
          if (path === "/goods" && method === "POST") acknowledged.push(name);
        } else {
          const label = outcome.status === 200 ? `200 ${outcome.body?.errormessage}` : String(outcome.status);
          report.failedByStatus[label] = (report.failedByStatus[label] ?? 0) + 1;
        }
      }
    };
    const load = Array.from({ length: options.workers ?? 6 }, (_, id) => worker(id));

    const restartGoods = async (index: number) => {
      const port = goods[index].port;
      goods[index] = await system.startService("goods", port);
    };
    const deadline = Date.now() + options.durationMs;
    await delay(500);
    // At least MIN_FAULTS, however slowly a loaded machine restarts processes: fewer would prove little.
    while (Date.now() < deadline || faults.length < MIN_FAULTS) {
      const index = Math.floor(random() * goods.length);
      const target = goods[index];
      const choice = Math.floor(random() * 5);
      if (choice === 0) {
        faults.push(`SIGKILL goods:${target.port}`);
        target.signal("SIGKILL");
        await target.exited;
        await delay(300);
        await restartGoods(index);
      } else if (choice === 1) {
        faults.push(`SIGSTOP goods:${target.port} 1.5 s`);
        target.signal("SIGSTOP");
        await delay(1500);
        target.signal("SIGCONT");
      } else if (choice === 2) {
        faults.push(`SIGTERM goods:${target.port}, restart`);
        await target.stop(10_000);
        await restartGoods(index);
      } else if (choice === 3) {
        faults.push("SIGKILL distributor, restart after 1 s");
        const port = distributor.port;
        distributor.signal("SIGKILL");
        await distributor.exited;
        await delay(1000);
        distributor = await startProcess("distributor.ts", [String(port), ...heartbeat], { runtime });
      } else {
        faults.push("SIGSTOP distributor 1 s");
        distributor.signal("SIGSTOP");
        await delay(1000);
        distributor.signal("SIGCONT");
      }
      log(`fault: ${faults.at(-1)} (sent ${report.sent}, succeeded ${report.succeeded}, hung ${report.hung})`);
      await delay(700 + random() * 800);
    }
    // Let the mesh heal, then a last stretch of load on a whole system.
    await delay(3 * HEARTBEAT_MS + 2000);
    stopping = true;
    await Promise.all(load);

    const rows = await database.query<{ name: string }[]>("SELECT name FROM goods WHERE category = 'faults'");
    const stored = new Set(rows.map((row) => row.name));
    report.acknowledgedWrites = acknowledged.length;
    report.acknowledgedWritesLost = acknowledged.filter((name) => !stored.has(name)).length;
    report.gatewayInFlightAfter = (await call(system, "GET", "/_pilcrow/status")).body.inFlight;
    return report;
  } finally {
    stopping = true;
    for (const process of [...goods, distributor]) process.signal("SIGCONT");
    await stopAll([...goods, distributor]);
    await system.stop();
    await database.drop();
  }
}

export function formatReport(report: FaultReport): string {
  const failed = Object.entries(report.failedByStatus).map(([status, count]) => `${status}: ${count}`).join(", ");
  return [
    `runtime                     ${report.runtime}`,
    `duration                    ${(report.durationMs / 1000).toFixed(0)} s, ${report.faults.length} faults`,
    `requests sent               ${report.sent}`,
    `succeeded                   ${report.succeeded}`,
    `failed, by status           ${failed || "none"}`,
    `hung (must be 0)            ${report.hung}`,
    `acknowledged writes         ${report.acknowledgedWrites}`,
    `acknowledged writes lost    ${report.acknowledgedWritesLost}   (must be 0)`,
    `gateway requests in flight  ${report.gatewayInFlightAfter}   (after the run; must be 0)`,
  ].join("\n");
}
