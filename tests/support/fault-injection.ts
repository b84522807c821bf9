/**
 * Fault injection: a steady load through the gateway while instances and the distributor are killed
 * (SIGKILL), frozen (SIGSTOP), stopped gracefully (SIGTERM) and restarted — or, on the NATS mesh, while instances
 * are and a private nats-server is stopped and restarted, and frozen. It counts what the clients saw:
 * requests sent, succeeded, failed by status, hung (no answer at all — must be 0), and acknowledged writes
 * lost (a POST answered with success whose row is not in the database afterwards — must be 0).
 * Runs on the embedded store (every goods instance opens the same SQLite file in the system's data directory)
 * or on MySQL: either way the instances share the rows, and a killed one loses nothing it acknowledged.
 *
 * With `retry`, every POST carries an Idempotency-Key and its client sends it again, with the same key, until it
 * succeeds — as a client should after a 502 or 504, not knowing whether it was done. The report then counts rows
 * per key: duplicates (a key with more than one row) and lost (a key with none) must both be 0.
 */
import type { RuntimeName } from "../../lib/runtime/mod.ts";
import { openSqliteDatabase } from "../../lib/store/sqlite.ts";
import { createTestDatabase, type TestDatabase } from "./mysql.ts";
import { type PrivateNats, startPrivateNats } from "./private-nats.ts";
import { delay, type RunningProcess, startProcess, stopAll } from "./processes.ts";
import {
  call,
  type MeshSystem,
  newMeshName,
  startNatsSystem,
  startSystem,
  uniformMesh,
  waitForInstances,
} from "./system.ts";

export interface FaultOptions {
  durationMs: number;
  runtime?: RuntimeName;
  workers?: number;
  /** Seed of the fault schedule, so a run can be repeated. */
  seed?: number;
  log?: (line: string) => void;
  /** Where the services keep their rows (default: the embedded SQLite store). */
  store?: "sqlite" | "mysql";
  /** Every failed POST is sent again with its Idempotency-Key until it succeeds. */
  retry?: boolean;
  /** The mesh: the distributor's (default), or NATS on a private server that the run stops and freezes. */
  mesh?: "tcp" | "nats";
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
  store: "sqlite" | "mysql";
  retry: boolean;
  mesh: "tcp" | "nats";
  /** Requests whose connection to an instance was lost (the gateway's log): the faults that could duplicate. */
  connectionsLost: number;
  /** Retry mode: POSTs sent again after a failure. */
  retries: number;
  /** Retry mode: keys whose client gave up (RETRY_LIMIT failures in a row; must be 0). */
  gaveUp: number;
  /** Retry mode: keys with more than one row (must be 0). */
  duplicates: number;
  /** Retry mode: keys with no row (must be 0). */
  lost: number;
  faults: string[];
  gatewayInFlightAfter: number;
}

/** A client-side limit far above the gateway's timeout: a request still unanswered then is hung. */
const HUNG_AFTER_MS = 10_000;
const GATEWAY_TIMEOUT_MS = 2000;
const HEARTBEAT_MS = 300;
const MIN_FAULTS = 4;
/** A client that fails this often in a row with one key gives up (the report counts it). */
const RETRY_LIMIT = 100;
const RETRY_PAUSE_MS = 100;

/** Rows per key (goods by name, purchases by goodsid) of the run, from whichever database the services used. */
type Counter = (sql: string) => Promise<{ id: string; n: number }[]>;

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
  const store = options.store ?? "sqlite";
  const retry = options.retry ?? false;
  const database: TestDatabase | undefined = store === "mysql" ? await createTestDatabase("faults") : undefined;
  const heartbeat = ["--heartbeat", String(HEARTBEAT_MS)];
  const mesh = options.mesh ?? "tcp";
  const nats: PrivateNats | undefined = mesh === "nats" ? await startPrivateNats() : undefined;
  const systemOptions = {
    runtime,
    services: ["goods", "purchases"],
    env: database ? { MYSQL_URL: database.url } : {},
    distributorArgs: heartbeat,
    gateArgs: [...heartbeat, "--status", "--timeout", String(GATEWAY_TIMEOUT_MS)],
  };
  let distributor: RunningProcess | undefined;
  let system: MeshSystem;
  if (nats) {
    system = await startNatsSystem({ ...systemOptions, nats: { url: nats.url, name: newMeshName() } });
  } else {
    const withDistributor = await startSystem(systemOptions);
    distributor = withDistributor.distributor;
    system = withDistributor;
  }
  const goods: RunningProcess[] = [system.services.get("goods")!];
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
    store,
    retry,
    mesh,
    connectionsLost: 0,
    retries: 0,
    gaveUp: 0,
    duplicates: 0,
    lost: 0,
    faults,
    gatewayInFlightAfter: -1,
  };
  const acknowledged: string[] = [];
  let stopping = false;
  try {
    const from = system.gate.entries.length;
    goods.push(await system.startService("goods"));
    await waitForInstances(system, 1, from);

    /** One request, with its outcome as the client saw it; undefined when it hung. */
    const attempt = async (method: string, path: string, body: unknown, key: string | undefined) => {
      report.sent++;
      const headers: Record<string, string> = { "content-type": "application/json" };
      if (key !== undefined) headers["idempotency-key"] = key;
      const outcome = await Promise.race([
        call(system, method, path, body, headers).catch((error: Error) => ({
          status: `client error ${error.message}`,
          body: {} as Record<string, unknown>,
        })),
        delay(HUNG_AFTER_MS).then(() => undefined),
      ]);
      if (!outcome) report.hung++;
      else if (outcome.status === 200 && outcome.body?.errorcode === 0) report.succeeded++;
      else {
        const label = outcome.status === 200 ? `200 ${outcome.body?.errormessage}` : String(outcome.status);
        report.failedByStatus[label] = (report.failedByStatus[label] ?? 0) + 1;
      }
      return outcome;
    };
    const acknowledgedPurchases: string[] = [];
    const keyedGoods: string[] = [];
    const keyedPurchases: string[] = [];
    const worker = async (id: number) => {
      for (let n = 0; !stopping; n++) {
        const name = `w${id}-${n}`;
        // Unique per request, so that rows can be counted per request (and per key).
        const goodsid = id * 1_000_000 + n;
        const [method, path, body] = n % 3 === 2
          ? ["GET", "/purchases?userid=1"]
          : n % 3 === 1
          ? ["POST", "/purchases", { userid: 1, goodsid }]
          : ["POST", "/goods", { name, category: "faults", price: n, description: "d" }];
        const isGoods = path === "/goods";
        const key = retry && method === "POST" ? `fi-${isGoods ? name : goodsid}` : undefined;
        if (key !== undefined) (isGoods ? keyedGoods : keyedPurchases).push(isGoods ? name : String(goodsid));
        for (let failures = 0;;) {
          const outcome = await attempt(method, path, body, key);
          const ok = outcome?.status === 200 && outcome.body?.errorcode === 0;
          if (ok && method === "POST") {
            (isGoods ? acknowledged : acknowledgedPurchases).push(isGoods ? name : String(goodsid));
          }
          // Without a key a failed request is left as it is; with one, its client tries again until it is done,
          // even after the load stopped (the system is whole again by then).
          if (ok || key === undefined) break;
          if (++failures >= RETRY_LIMIT) {
            report.gaveUp++;
            break;
          }
          report.retries++;
          await delay(RETRY_PAUSE_MS);
        }
      }
    };
    const load = Array.from({ length: options.workers ?? 6 }, (_, id) => worker(id));

    /** Waits (up to a second) until the gateway has a request in flight on the instance listening on `port`. */
    const inFlightOn = async (port: number) => {
      for (const until = Date.now() + 1000; Date.now() < until;) {
        const { instances } = (await call(system, "GET", "/_pilcrow/status")).body as {
          instances: { id: string; inFlight: number }[];
        };
        if (instances.some((instance) => instance.id.endsWith(`:${port}`) && instance.inFlight > 0)) return;
      }
    };
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
      // On NATS the second fault is always a restart of the server: the one fault no run may miss. With retrying
      // clients the first is a SIGKILL of goods in mid-request: what the retries are there for.
      const choice = nats && faults.length === 1 ? 3 : retry && faults.length === 0 ? 0 : Math.floor(random() * 5);
      if (choice === 0) {
        faults.push(`SIGKILL goods:${target.port}`);
        // On TCP, once the gateway has a request in flight on it (its status says so), so that the kill cuts one.
        if (!nats) await inFlightOn(target.port);
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
      } else if (nats && choice === 3) {
        faults.push("stop the NATS server, restart after 1 s");
        await nats.stop();
        await delay(1000);
        await nats.restart();
      } else if (nats) {
        faults.push("SIGSTOP the NATS server 1 s");
        nats.freeze();
        await delay(1000);
        nats.thaw();
      } else if (choice === 3) {
        faults.push("SIGKILL distributor, restart after 1 s");
        const port = distributor!.port;
        distributor!.signal("SIGKILL");
        await distributor!.exited;
        await delay(1000);
        distributor = await startProcess("distributor.ts", [String(port), ...heartbeat], { runtime });
      } else {
        faults.push("SIGSTOP distributor 1 s");
        distributor!.signal("SIGSTOP");
        await delay(1000);
        distributor!.signal("SIGCONT");
      }
      log(`fault: ${faults.at(-1)} (sent ${report.sent}, succeeded ${report.succeeded}, hung ${report.hung})`);
      await delay(700 + random() * 800);
    }
    // Let the mesh heal, then a last stretch of load on a whole system.
    await delay(3 * HEARTBEAT_MS + 2000);
    stopping = true;
    await Promise.all(load);

    const count: Counter = database
      ? (sql) => database.query<{ id: string; n: number }[]>(sql)
      : async (sql) => {
        // The services' own SQLite files, opened as one more process sharing them.
        const service = sql.includes("FROM goods") ? "goods" : "purchases";
        const db = await openSqliteDatabase(system.dataDir, service);
        try {
          return await db.run<{ id: string; n: number }[]>(sql);
        } finally {
          await db.close();
        }
      };
    const goodsRows = await rowsPerKey(
      count,
      "SELECT name AS id, COUNT(*) AS n FROM goods WHERE category = 'faults' GROUP BY name",
    );
    const purchaseRows = await rowsPerKey(
      count,
      "SELECT goodsid AS id, COUNT(*) AS n FROM purchases WHERE userid = 1 GROUP BY goodsid",
    );
    report.acknowledgedWrites = acknowledged.length + acknowledgedPurchases.length;
    report.acknowledgedWritesLost = acknowledged.filter((name) => !goodsRows.has(name)).length
      + acknowledgedPurchases.filter((goodsid) => !purchaseRows.has(goodsid)).length;
    for (const [keys, rows] of [[keyedGoods, goodsRows], [keyedPurchases, purchaseRows]] as const) {
      for (const key of keys) {
        const n = rows.get(key) ?? 0;
        if (n === 0) report.lost++;
        if (n > 1) report.duplicates++;
      }
    }
    report.connectionsLost = system.gate.entries.filter((entry) => entry.event === "connection lost").length;
    report.gatewayInFlightAfter = (await call(system, "GET", "/_pilcrow/status")).body.inFlight;
    return report;
  } finally {
    stopping = true;
    for (const process of [...goods, distributor]) process?.signal("SIGCONT");
    nats?.thaw();
    await stopAll([...goods, distributor]);
    await system.stop();
    await nats?.destroy();
    await database?.drop();
  }
}

async function rowsPerKey(count: Counter, sql: string): Promise<Map<string, number>> {
  return new Map((await count(sql)).map(({ id, n }) => [String(id), Number(n)]));
}

export function formatReport(report: FaultReport): string {
  const failed = Object.entries(report.failedByStatus).map(([status, count]) => `${status}: ${count}`).join(", ");
  return [
    `runtime                     ${report.runtime}, ${report.store}, ${
      report.mesh === "nats" ? "NATS mesh" : "distributor"
    }${report.retry ? ", clients retry with Idempotency-Key" : ""}`,
    `duration                    ${(report.durationMs / 1000).toFixed(0)} s, ${report.faults.length} faults`,
    `requests sent               ${report.sent}`,
    `succeeded                   ${report.succeeded}`,
    `failed, by status           ${failed || "none"}`,
    `hung (must be 0)            ${report.hung}`,
    `acknowledged writes         ${report.acknowledgedWrites}`,
    `acknowledged writes lost    ${report.acknowledgedWritesLost}   (must be 0)`,
    `gateway requests in flight  ${report.gatewayInFlightAfter}   (after the run; must be 0)`,
    ...(report.retry
      ? [
        `connections lost mid-request ${report.connectionsLost} (keyed POSTs among them resent by the gateway)`,
        `POSTs sent again by clients ${report.retries}`,
        `keys given up               ${report.gaveUp}   (must be 0)`,
        `keys with duplicate rows    ${report.duplicates}   (must be 0)`,
        `keys with no row (lost)     ${report.lost}   (must be 0)`,
      ]
      : []),
  ].join("\n");
}
