/**
 * `npm run bench`: every figure of BENCHMARKS.md, measured in one run on this machine, printed as one report on
 * stdout (progress goes to stderr). Per runtime: the gateway and the bare Hono app under wrk, the gateway with its
 * mesh over NATS (a private nats-server) beside it over TCP, GET and POST /goods on each store (SQLite file, SQLite
 * in memory, MySQL when one answers), the idle memory of each process, and calls between two services; on Node,
 * Pilcrow against Moleculer over TCP and over NATS (NATS_URL, default nats://127.0.0.1:4222) and NestJS over TCP,
 * in alternating rounds; the codec and the TCP hop on their own; how the mesh's cost grows with its size, over the
 * distributor and NATS.
 * See options.ts for `--quick`, `--calls-only`, `--growth-only`, `--nats-only`, `--observe-only`, `--peers-only` and `--speed-only`.
 */
import { readFileSync } from "node:fs";
import process from "node:process";
import { createLogger } from "../../lib/log.ts";
import { commandLineArguments, exit, onShutdownSignal, type RuntimeName } from "../../lib/runtime/mod.ts";
import { createTestDatabase, mysqlServerUrl } from "../../tests/support/mysql.ts";
import { delay, ROOT } from "../../tests/support/processes.ts";
import { measureCalls } from "./calls.ts";
import {
  type Contender,
  type Observing,
  pidOf,
  startBareHono,
  startCallPair,
  startMoleculer,
  startNestJs,
  startPilcrow,
  startPilcrowOverNats,
  startPilcrowWorkers,
  startTcpEcho,
  type StoreChoice,
} from "./contenders.ts";
import { checkList, postGoods } from "./goods-client.ts";
import { describeMachine } from "./machine.ts";
import { measureInChild } from "./measure-child.ts";
import { measureMeshGrowth } from "./mesh-growth.ts";
import { parseBenchOptions } from "./options.ts";
import { startOtlpSink } from "./otlp-sink.ts";
import { startPrivateNats } from "./private-nats.ts";
import { cpuSeconds, residentMiB } from "./proc.ts";
import {
  type CodecResult,
  type HttpFigure,
  type ObserveFigures,
  type PeerName,
  renderReport,
  type Results,
  STORE_LABELS,
  type StoreFigure,
  type TcpHopResult,
} from "./report.ts";
import { type Load, measure, warmUp, wrkVersion } from "./wrk.ts";

/** The gateway processes of the workers figure: all 2 cores can show (issue 17, goal 4). */
const WORKERS = 2;
const progress = (text: string) => process.stderr.write(`bench: ${text}\n`);

/** Something the bench started and must stop: a contender, or the private nats-server under one. */
interface Stoppable {
  stop(): Promise<void>;
}

/** What is running now, so that an interrupted run leaves no process behind. */
const running = new Set<Stoppable>();
onShutdownSignal(async () => {
  await Promise.all([...running].map((started) => started.stop()));
  exit(130);
});

async function using<S extends Stoppable, T>(start: S | Promise<S>, use: (started: S) => Promise<T>): Promise<T> {
  const started = await start;
  running.add(started);
  try {
    return await use(started);
  } finally {
    running.delete(started);
    await started.stop();
  }
}

function packageVersion(name: string): string {
  return JSON.parse(readFileSync(`${ROOT}node_modules/${name}/package.json`, "utf8")).version;
}

const options = parseBenchOptions(commandLineArguments());
// First, so that a machine without wrk hears so at once, in one line.
const loadGenerator = options.callsOnly
  ? "none (call figures only)"
  : options.growthOnly
  ? "none (mesh-growth figures only)"
  : await wrkVersion().then(
    (version) => `wrk ${version}`,
    (error: Error) => {
      progress(error.message);
      return exit(1);
    },
  );
const started = Date.now();
const results: Results = {
  startedAt: new Date(started),
  seconds: 0,
  machine: await describeMachine(),
  loadGenerator,
  options,
  bodyBytes: 0,
  gateway: {},
  workers: {},
  natsGateway: {},
  observe: {},
  peers: {},
  bare: {},
  calls: {},
  codec: {},
  tcp: {},
  rss: {},
  stores: {},
};

/**
 * Checks the answer, warms up, then measures `GET /goods` (or `POST /goods`, which grows the list: measure it
 * last) and the CPU of each process on the request path.
 */
async function measureGoods(contender: Contender, what: string, load: Load = "get"): Promise<HttpFigure> {
  const url = `${contender.url}/goods`;
  if (load === "get") await checkList(contender.url);
  progress(`${what}: ${options.http.warmupSeconds} s warm-up, ${options.http.seconds} s measured`);
  await warmUp(url, options.http, load);
  const pids = contender.requestPath.map((name) => [name, pidOf(contender, name)] as const);
  const cpuBefore = pids.map(([, pid]) => cpuSeconds(pid));
  const measuredFrom = performance.now();
  const result = await measure(url, options.http, load);
  const seconds = (performance.now() - measuredFrom) / 1000;
  const cpu = Object.fromEntries(
    pids.map(([name, pid], index) => [name, (cpuSeconds(pid) - cpuBefore[index]) / seconds]),
  );
  if (load === "get") await checkList(contender.url);
  return { ...result, cpu };
}

/** GET then POST /goods through the gateway of a whole system on `runtime` whose services use `store`. */
function measureStore(runtime: RuntimeName, store: StoreChoice): Promise<StoreFigure> {
  const what = `${runtime}: ${STORE_LABELS[store.kind]}`;
  progress(`${what}: starting distributor, gate, goods, members, purchases`);
  return using(startPilcrow(runtime, store), async (pilcrow) => {
    await postGoods(pilcrow.url);
    const get = await measureGoods(pilcrow, `${what}, GET /goods`);
    return { get, post: await measureGoods(pilcrow, `${what}, POST /goods`, "post-goods") };
  });
}

/** SQLite in memory and MySQL (a new database on each runtime, when a server answers: MYSQL_URL or local). */
async function measureOtherStores(runtime: RuntimeName): Promise<void> {
  const figures = results.stores[runtime]!;
  figures["sqlite memory"] = await measureStore(runtime, { kind: "sqlite memory" });
  if (mysqlServerUrl === undefined) {
    progress(`${runtime}: no MySQL answers: no MySQL figures`);
    return;
  }
  const database = await createTestDatabase("bench");
  try {
    figures.mysql = await measureStore(runtime, { kind: "mysql", url: database.url });
  } finally {
    await database.drop();
  }
}

/**
 * GET /goods through the same system with its mesh over NATS, on a nats-server of its own that nothing else uses;
 * where none can be started (no nats-server installed), the reason goes into the report instead.
 */
async function measureGatewayOverNats(runtime: RuntimeName): Promise<void> {
  if (results.natsSkipped !== undefined) return;
  progress(`${runtime}: starting a private nats-server, then gate, goods, members, purchases over NATS`);
  const nats = await startPrivateNats().catch((error: Error) => error);
  if (nats instanceof Error) {
    results.natsSkipped = nats.message;
    progress(`no figures over NATS: ${nats.message}`);
    return;
  }
  results.natsServer = nats.version;
  await using(nats, () =>
    using(startPilcrowOverNats(runtime, nats), async (pilcrow) => {
      await postGoods(pilcrow.url);
      results.natsGateway[runtime] = await measureGoods(pilcrow, `${runtime}: gateway over NATS`);
    }));
}

/** `--nats-only`: per runtime, GET /goods through the gateway over TCP (distributor), then over NATS. */
async function measureGatewayOverBothMeshes(): Promise<void> {
  for (const runtime of options.runtimes) {
    progress(`${runtime}: starting distributor, gate, goods, members, purchases`);
    results.gateway[runtime] = await using(startPilcrow(runtime), async (pilcrow) => {
      await postGoods(pilcrow.url);
      results.bodyBytes = await checkList(pilcrow.url);
      return await measureGoods(pilcrow, `${runtime}: gateway over TCP`);
    });
    await measureGatewayOverNats(runtime);
  }
}

/**
 * What seeing the mesh costs: GET /goods through the same system with nothing observed (spans still made, no SDK:
 * that is the default and cannot be turned off), then with `--metrics --dashboard` (no page open), alternating
 * twice so that drift hits both alike, then with every process exporting its spans over OTLP/HTTP to a sink.
 */
async function measureObservability(runtime: RuntimeName): Promise<void> {
  const observed: ObserveFigures = { plain: [], metrics: [] };
  const rounds: [keyof Omit<ObserveFigures, "exported">, Observing][] = [
    ["plain", {}],
    ["metrics", { gateArgs: ["--metrics", "--dashboard"] }],
    ["plain", {}],
    ["metrics", { gateArgs: ["--metrics", "--dashboard"] }],
  ];
  for (const [name, observing] of rounds) {
    progress(`${runtime}: starting distributor, gate, goods, members, purchases (${name})`);
    observed[name].push(
      await using(startPilcrow(runtime, undefined, observing), async (pilcrow) => {
        await postGoods(pilcrow.url);
        return await measureGoods(pilcrow, `${runtime}: gateway (${name})`);
      }),
    );
  }
  const sink = await startOtlpSink();
  try {
    const exporting = { gateArgs: ["--metrics"], env: { OTEL_EXPORTER_OTLP_ENDPOINT: sink.url } };
    progress(`${runtime}: starting distributor, gate, goods, members, purchases (metrics, traces exported)`);
    observed.exported = await using(startPilcrow(runtime, undefined, exporting), async (pilcrow) => {
      await postGoods(pilcrow.url);
      return await measureGoods(pilcrow, `${runtime}: gateway (metrics, traces exported)`);
    });
    if (sink.exports === 0) throw new Error(`${runtime}: no span reached the OTLP sink`);
  } finally {
    await sink.close();
  }
  results.observe[runtime] = observed;
}

async function measureServiceCalls(): Promise<void> {
  const { seconds, warmupSeconds, inFlight } = options.calls;
  for (const runtime of options.runtimes) {
    progress(
      `${runtime}: calls between two services, ${warmupSeconds} s warm-up, ${seconds} s measured, one at a time `
        + `then ${inFlight} in flight`,
    );
    results.calls[runtime] = await using(startCallPair(runtime), (pair) => measureCalls(pair, options.calls));
  }
}

function measureTcpHop(runtime: RuntimeName): Promise<TcpHopResult> {
  return using(startTcpEcho(runtime), (echo) =>
    measureInChild<TcpHopResult>(
      "scripts/bench/tcp-hop.ts",
      [new URL(echo.url).port, String(options.tcpSeconds), String(options.tcpInFlight)],
      runtime,
      (options.tcpSeconds * 3 + 30) * 1000,
    ));
}

async function measureGrowth(): Promise<void> {
  // Warnings of the nodes in this process go to stderr with the progress; stdout is the report's.
  const log = createLogger({ name: "bench-growth", format: "json", level: "warn" });
  results.growth = await measureMeshGrowth(options.growth, log, progress);
}

/** A system of the peer comparison: how it is named in the report, and how it is started anew for a round. */
interface Peer {
  name: PeerName;
  label: string;
  start(): Promise<Contender>;
}

/**
 * GET /goods on Node through Pilcrow (its mesh over TCP, and over NATS on a private nats-server), Moleculer with
 * moleculer-web (TCP transporter, and NATS at NATS_URL) and NestJS (TCP transport): each peer started anew and
 * measured once per round, the rounds alternating between them, so that the machine's drift hits all alike and each
 * one's own spread from round to round shows beside the differences between them.
 */
async function measurePeers(): Promise<void> {
  const nats = await startPrivateNats().catch((error: Error) => error);
  if (nats instanceof Error) {
    results.natsSkipped = nats.message;
    progress(`no Pilcrow over NATS among the peers: ${nats.message}`);
  } else results.natsServer = nats.version;
  const natsUrl = process.env.NATS_URL ?? "nats://127.0.0.1:4222";
  const moleculer = `Moleculer ${packageVersion("moleculer")} + moleculer-web ${packageVersion("moleculer-web")}`;
  const peers: Peer[] = [
    { name: "pilcrow-tcp", label: "Pilcrow on Node (tsx), mesh over TCP", start: () => startPilcrow("node") },
    ...(nats instanceof Error ? [] : [{
      name: "pilcrow-nats" as const,
      label: `Pilcrow on Node (tsx), mesh over NATS (nats-server ${nats.version})`,
      start: () => startPilcrowOverNats("node", nats),
    }]),
    { name: "moleculer-tcp", label: `${moleculer}, TCP transporter`, start: () => startMoleculer() },
    {
      name: "moleculer-nats",
      label: `${moleculer}, nats ${packageVersion("nats")}, NATS transporter`,
      start: () => startMoleculer({ kind: "nats", url: natsUrl }),
    },
    {
      name: "nestjs-tcp",
      label: `NestJS ${packageVersion("@nestjs/core")} + platform-express, microservices `
        + `${packageVersion("@nestjs/microservices")}, TCP transport`,
      start: startNestJs,
    },
  ];
  const measureRounds = async () => {
    for (let round = 1; round <= options.peerRounds; round++) {
      for (const peer of peers) {
        const what = `node: ${peer.label}, round ${round} of ${options.peerRounds}`;
        progress(`${what}: starting${peer.name === "moleculer-nats" ? ` on NATS at ${natsUrl}` : ""}`);
        const figure = await using(peer.start(), async (contender) => {
          await postGoods(contender.url);
          if (peer.name === "pilcrow-tcp") results.bodyBytes = await checkList(contender.url);
          return await measureGoods(contender, what);
        });
        (results.peers[peer.name] ??= { label: peer.label, rounds: [] }).rounds.push(figure);
      }
    }
  };
  if (nats instanceof Error) await measureRounds();
  else await using(nats, measureRounds);
}

/** GET /goods through the gateway on two workers (--workers 2), then from a bare Hono app. */
async function measureWorkersAndBare(runtime: RuntimeName): Promise<void> {
  progress(`${runtime}: the system with its gateway on ${WORKERS} workers`);
  results.workers[runtime] = await using(startPilcrowWorkers(runtime, WORKERS), async (pilcrow) => {
    await postGoods(pilcrow.url);
    return measureGoods(pilcrow, `${runtime}: gateway on ${WORKERS} workers`);
  });
  results.bare[runtime] = await using(startBareHono(runtime), (bare) => measureGoods(bare, `${runtime}: bare Hono`));
}

/** The gateway's speed alone: one worker, two, and the bare Hono app, per runtime (goals 1, 3 and 4 of issue 17). */
async function measureSpeed(): Promise<void> {
  for (const runtime of options.runtimes) {
    results.gateway[runtime] = await using(startPilcrow(runtime), async (pilcrow) => {
      await postGoods(pilcrow.url);
      return measureGoods(pilcrow, `${runtime}: gateway`);
    });
    await measureWorkersAndBare(runtime);
  }
}

async function measureEverything(): Promise<void> {
  for (const runtime of options.runtimes) {
    progress(`${runtime}: starting distributor, gate, goods, members, purchases`);
    await using(startPilcrow(runtime), async (pilcrow) => {
      await delay(options.settleMs);
      results.rss[runtime] = Object.fromEntries(
        [...pilcrow.processes].map(([name, member]) => [name, residentMiB(member.child.pid)]),
      );
      await postGoods(pilcrow.url);
      results.bodyBytes = await checkList(pilcrow.url);
      // On the default store: the SQLite file, in a new data directory.
      const get = await measureGoods(pilcrow, `${runtime}: gateway`);
      results.gateway[runtime] = get;
      const post = await measureGoods(pilcrow, `${runtime}: gateway, POST /goods`, "post-goods");
      results.stores[runtime] = { "sqlite file": { get, post } };
    });
    await measureGatewayOverNats(runtime);
    await measureOtherStores(runtime);
    await measureWorkersAndBare(runtime);
  }

  await measureServiceCalls();
  for (const runtime of options.runtimes) await measureObservability(runtime);

  await measurePeers();

  for (const runtime of options.runtimes) {
    progress(`${runtime}: codec, then TCP hop`);
    results.codec[runtime] = await measureInChild<CodecResult>(
      "scripts/bench/codec.ts",
      [String(options.codecSeconds)],
      runtime,
      (options.codecSeconds * 4 + 30) * 1000,
    );
    results.tcp[runtime] = await measureTcpHop(runtime);
  }

  await measureGrowth();
}

if (options.callsOnly) await measureServiceCalls();
else if (options.growthOnly) await measureGrowth();
else if (options.natsOnly) await measureGatewayOverBothMeshes();
else if (options.observeOnly) { for (const runtime of options.runtimes) await measureObservability(runtime); }
else if (options.peersOnly) await measurePeers();
else if (options.speedOnly) await measureSpeed();
else await measureEverything();

results.seconds = (Date.now() - started) / 1000;
process.stdout.write(renderReport(results));
