/**
 * The servers under test, each started as real processes on free ports on 127.0.0.1: the whole Pilcrow system on
 * one runtime (its mesh over TCP with a distributor, or over NATS), the bare Hono app, Moleculer with moleculer-web
 * (on Node, over TCP or NATS), NestJS (on Node, over its TCP transport), the TCP echo server, and two services that
 * call each other through a distributor.
 */
import process from "node:process";
import type { RuntimeName } from "../../lib/runtime/mod.ts";
import { type RunningProcess, startProcess, stopAll } from "../../tests/support/processes.ts";
import { startNatsSystem, startSystem, uniformMesh } from "../../tests/support/system.ts";
import type { PrivateNats } from "./private-nats.ts";

export interface Contender {
  /** Where it is reached: `http://127.0.0.1:PORT`, or `tcp://…` for the echo server. */
  url: string;
  /** Every process, named as in the report. */
  processes: Map<string, RunningProcess>;
  /** The names of those a request goes through, whose CPU use is reported. */
  requestPath: string[];
  /** Servers on the request path that are not Pilcrow's processes (the nats-server): their process ids, by name. */
  otherPids?: Map<string, number>;
  stop(): Promise<void>;
}

/** The process id of a process on the contender's request path. */
export function pidOf(contender: Contender, name: string): number {
  const pid = contender.processes.get(name)?.child.pid ?? contender.otherPids?.get(name);
  if (pid === undefined) throw new Error(`no process ${name} in this contender`);
  return pid;
}

const url = (running: RunningProcess) => `http://127.0.0.1:${running.port}`;

/**
 * Where the services of a Pilcrow contender keep their data: the embedded store on SQLite in a new data directory
 * (the default), SQLite in memory, or a MySQL database.
 */
export type StoreChoice = { kind: "sqlite file" } | { kind: "sqlite memory" } | { kind: "mysql"; url: string };

/** How a contender's gateway is asked to observe: its flags, and the environment of every process. */
export interface Observing {
  gateArgs?: string[];
  env?: Record<string, string>;
}

/** Distributor, gate, goods, members and purchases, all on `runtime` with its own TCP and HTTP APIs. */
export async function startPilcrow(
  runtime: RuntimeName,
  store: StoreChoice = { kind: "sqlite file" },
  observing: Observing = {},
): Promise<Contender> {
  const system = await startSystem({
    mesh: uniformMesh(runtime),
    gateArgs: observing.gateArgs,
    ...(store.kind === "sqlite memory" ? { dataDir: ":memory:" } : {}),
    env: { ...(store.kind === "mysql" ? { MYSQL_URL: store.url } : {}), ...observing.env },
  });
  return {
    url: system.url,
    processes: new Map([
      ["distributor", system.distributor],
      ["gate", system.gate],
      ...system.services,
    ]),
    requestPath: ["gate", "goods"],
    stop: () => system.stop(),
  };
}

/**
 * The whole system with its gateway on `workers` processes sharing its port (`--workers`): the CPU on the request
 * path is each worker's, found by the pids its supervisor logs as it starts them, and goods'.
 */
export async function startPilcrowWorkers(runtime: RuntimeName, workers: number): Promise<Contender> {
  const pilcrow = await startPilcrow(runtime, undefined, { gateArgs: ["--workers", String(workers)] });
  const gate = pilcrow.processes.get("gate")!;
  const started = (entry: { event: string }) => /^worker \d+ started \(pid (\d+)/.exec(entry.event);
  await gate.waitFor(() => gate.entries.filter(started).length >= workers);
  // Each worker connects to every service on its own: until the last has, a request it takes may find none.
  const services = pilcrow.processes.size - 2;
  await gate.waitFor(() =>
    gate.entries.filter((entry) => entry.event === "instance connected").length >= services * workers
  );
  const pids = gate.entries.map(started).filter((match) => match !== null).map((match) => Number(match[1]));
  const names = pids.map((_, index) => `worker ${index + 1}`);
  return {
    ...pilcrow,
    requestPath: [...names, "goods"],
    otherPids: new Map(names.map((name, index) => [name, pids[index]])),
  };
}

/**
 * The same gate, goods, members and purchases on `runtime` and the same store (SQLite file, new data directory),
 * meshed over NATS (`--mesh`, no distributor) through `nats`: every request goes gate → nats-server → goods and
 * back, so the server's CPU is reported with theirs. The mesh name (PILCROW_MESH_NAME) is this run's own.
 */
export async function startPilcrowOverNats(runtime: RuntimeName, nats: PrivateNats): Promise<Contender> {
  const system = await startNatsSystem({
    mesh: uniformMesh(runtime),
    nats: { url: nats.url, name: `bench${process.pid}${runtime}` },
  });
  return {
    url: system.url,
    processes: new Map([["gate", system.gate], ...system.services]),
    requestPath: ["gate", "goods", "nats-server"],
    otherPids: new Map([["nats-server", nats.pid]]),
    stop: () => system.stop(),
  };
}

export async function startBareHono(runtime: RuntimeName): Promise<Contender> {
  const app = await startProcess("scripts/bench/bare-hono.ts", ["0"], { runtime });
  return {
    url: url(app),
    processes: new Map([["bare-hono", app]]),
    requestPath: ["bare-hono"],
    stop: async () => void await app.stop(),
  };
}

/** The far end of the TCP hop figure: a packet server that echoes; `url` is its TCP address. */
export async function startTcpEcho(runtime: RuntimeName): Promise<Contender> {
  const echo = await startProcess("scripts/bench/tcp-echo.ts", ["0"], { runtime });
  return {
    url: `tcp://127.0.0.1:${echo.port}`,
    processes: new Map([["tcp-echo", echo]]),
    requestPath: ["tcp-echo"],
    stop: async () => void await echo.stop(),
  };
}

/** A distributor, then the callee and the caller of the call figure (call-callee.ts, call-caller.ts); `url` is the caller's. */
export async function startCallPair(runtime: RuntimeName): Promise<Contender> {
  const distributor = await startProcess("distributor.ts", ["0"], { runtime });
  const meshArgs = ["--distributor", `127.0.0.1:${distributor.port}`];
  const started = [distributor];
  try {
    for (const name of ["call-callee", "call-caller"]) {
      started.push(await startProcess(`scripts/bench/${name}.ts`, ["0", ...meshArgs], { runtime }));
    }
  } catch (error) {
    await stopAll(started);
    throw error;
  }
  const [, callee, caller] = started;
  return {
    url: `tcp://127.0.0.1:${caller.port}`,
    processes: new Map([["distributor", distributor], ["callee", callee], ["caller", caller]]),
    requestPath: ["caller", "callee"],
    stop: () => stopAll([caller, callee, distributor]),
  };
}

/** Moleculer's transporter: its TCP one (peer to peer, as Pilcrow's mesh is), or its NATS one to a server. */
export type MoleculerTransport = { kind: "tcp" } | { kind: "nats"; url: string };

/**
 * The goods service first: the gateway is told where it is (over TCP its port; over NATS the server and this
 * run's namespace), and reports ready once it sees it.
 */
export async function startMoleculer(transport: MoleculerTransport = { kind: "tcp" }): Promise<Contender> {
  const natsArgs = transport.kind === "nats" ? [transport.url, `pilcrow-bench-${process.pid}`] : [];
  const goods = await startProcess("scripts/bench/moleculer-goods.ts", natsArgs, {
    runtime: "node",
    waitForListen: transport.kind === "tcp",
  });
  try {
    if (transport.kind === "nats") await goods.waitForEvent("ready", 30_000);
    return await withGateway(
      goods,
      "scripts/bench/moleculer-gateway.ts",
      transport.kind === "nats" ? natsArgs : [String(goods.port)],
    );
  } catch (error) {
    await goods.stop();
    throw error;
  }
}

/**
 * NestJS: the goods microservice first (its TCP transport on a free port), then the HTTP gateway, told that port,
 * which reports ready once its client has connected.
 */
export async function startNestJs(): Promise<Contender> {
  const goods = await startProcess("scripts/bench/nestjs-goods.ts", [], { runtime: "node" });
  try {
    return await withGateway(goods, "scripts/bench/nestjs-gateway.ts", [String(goods.port)]);
  } catch (error) {
    await goods.stop();
    throw error;
  }
}

/** A peer's gateway (on Node) in front of its goods service, started: the two are the contender. */
async function withGateway(goods: RunningProcess, entry: string, args: string[]): Promise<Contender> {
  const gateway = await startProcess(entry, args, { runtime: "node" });
  return {
    url: url(gateway),
    processes: new Map([["gateway", gateway], ["goods", goods]]),
    requestPath: ["gateway", "goods"],
    stop: () => stopAll([gateway, goods]),
  };
}
