/**
 * `npm run bench`: every figure of BENCHMARKS.md, measured in one run on this machine, printed as one report on
 * stdout (progress goes to stderr). Per runtime: the gateway and the bare Hono app under wrk, the idle memory of
 * each process, and calls between two services; Moleculer on Node; the codec and the TCP hop on their own. See
 * options.ts for `--quick` and `--calls-only`.
 */
import { readFileSync } from "node:fs";
import process from "node:process";
import { commandLineArguments, exit, onShutdownSignal, type RuntimeName } from "../../lib/runtime/mod.ts";
import { delay, ROOT } from "../../tests/support/processes.ts";
import { measureCalls } from "./calls.ts";
import {
  type Contender,
  startBareHono,
  startCallPair,
  startMoleculer,
  startPilcrow,
  startTcpEcho,
} from "./contenders.ts";
import { checkList, postGoods } from "./goods-client.ts";
import { describeMachine } from "./machine.ts";
import { measureInChild } from "./measure-child.ts";
import { parseBenchOptions } from "./options.ts";
import { cpuSeconds, residentMiB } from "./proc.ts";
import { type CodecResult, type HttpFigure, renderReport, type Results, type TcpHopResult } from "./report.ts";
import { measure, warmUp, wrkVersion } from "./wrk.ts";

const progress = (text: string) => process.stderr.write(`bench: ${text}\n`);

/** What is running now, so that an interrupted run leaves no process behind. */
const running = new Set<Contender>();
onShutdownSignal(async () => {
  await Promise.all([...running].map((contender) => contender.stop()));
  exit(130);
});

async function using<T>(start: Promise<Contender>, use: (contender: Contender) => Promise<T>): Promise<T> {
  const contender = await start;
  running.add(contender);
  try {
    return await use(contender);
  } finally {
    running.delete(contender);
    await contender.stop();
  }
}

function packageVersion(name: string): string {
  return JSON.parse(readFileSync(`${ROOT}node_modules/${name}/package.json`, "utf8")).version;
}

const options = parseBenchOptions(commandLineArguments());
// First, so that a machine without wrk hears so at once, in one line.
const loadGenerator = options.callsOnly ? "none (call figures only)" : await wrkVersion().then(
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
  bare: {},
  calls: {},
  codec: {},
  tcp: {},
  rss: {},
};

/** Checks the answer, warms up, then measures `GET /goods` and the CPU of each process on the request path. */
async function measureGoods(contender: Contender, what: string): Promise<HttpFigure> {
  const url = `${contender.url}/goods`;
  await checkList(contender.url);
  progress(`${what}: ${options.http.warmupSeconds} s warm-up, ${options.http.seconds} s measured`);
  await warmUp(url, options.http);
  const pids = contender.requestPath.map((name) => [name, contender.processes.get(name)!.child.pid] as const);
  const cpuBefore = pids.map(([, pid]) => cpuSeconds(pid));
  const measuredFrom = performance.now();
  const result = await measure(url, options.http);
  const seconds = (performance.now() - measuredFrom) / 1000;
  const cpu = Object.fromEntries(
    pids.map(([name, pid], index) => [name, (cpuSeconds(pid) - cpuBefore[index]) / seconds]),
  );
  await checkList(contender.url);
  return { ...result, cpu };
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
      results.gateway[runtime] = await measureGoods(pilcrow, `${runtime}: gateway`);
    });
    results.bare[runtime] = await using(startBareHono(runtime), (bare) => measureGoods(bare, `${runtime}: bare Hono`));
  }

  await measureServiceCalls();

  progress("node: starting Moleculer (gateway, goods)");
  results.moleculer = await using(startMoleculer(), async (moleculer) => {
    await postGoods(moleculer.url);
    return {
      versions: `${packageVersion("moleculer")} + moleculer-web ${packageVersion("moleculer-web")}`,
      result: await measureGoods(moleculer, "node: Moleculer"),
    };
  });

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
}

if (options.callsOnly) await measureServiceCalls();
else await measureEverything();

results.seconds = (Date.now() - started) / 1000;
process.stdout.write(renderReport(results));
