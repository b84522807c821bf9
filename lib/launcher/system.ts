/**
 * Runs a launch plan: the distributor first, then — once it listens, on the port it really got — the gateway and
 * the services, each under its own supervisor. Stops them in the reverse order: the gateway and the services first,
 * then the logs service (when --logs runs one), the distributor last, so that none of them loses the registry and starts reconnecting while it is being stopped.
 * With a NATS mesh there is no distributor: the nodes start at once, and meet over NATS.
 */
import process from "node:process";
import type { Logger } from "../log.ts";
import { type ListenAddress, runtimeCommand } from "../runtime/mod.ts";
import type { LaunchPlan, PlannedProcess, Role } from "./plan.ts";
import { Supervisor } from "./supervisor.ts";

export interface SystemOptions {
  /** The file that runs a shipped role, e.g. the absolute path of services/goods.ts. */
  entryPoint(role: Role): string;
  /** Where children run: the project root, where the runtimes find package.json, deno.json and node_modules. */
  cwd: string;
  log: Logger;
}

export class System {
  /** The gateway's address, once every process listens. Never settles if the system is stopped before. */
  readonly up: Promise<ListenAddress>;
  /** The reason, when a process cannot be kept running (see Supervisor). */
  readonly failed: Promise<string>;
  #fail!: (reason: string) => void;
  #distributor?: Supervisor;
  #nodes: Supervisor[] = [];
  #stopping = false;

  constructor(readonly plan: LaunchPlan, readonly options: SystemOptions) {
    this.failed = new Promise((resolve) => this.#fail = resolve);
    passToChildren(plan.nodeEnvironment);
    if (!plan.mesh) {
      this.#distributor = this.#supervise(plan.distributor, []);
      this.#distributor.start();
    }
    this.up = this.#startNodes();
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    for (const supervisor of [this.#distributor, ...this.#nodes]) supervisor?.stopRestarting();
    // The logs service last but the distributor: it takes the lines the others send as they stop.
    const isLogs = (index: number) => this.plan.nodes[index]?.role === "logs";
    await Promise.all(this.#nodes.filter((_, index) => !isLogs(index)).map((node) => node.stop()));
    await Promise.all(this.#nodes.filter((_, index) => isLogs(index)).map((node) => node.stop()));
    await this.#distributor?.stop();
  }

  async #startNodes(): Promise<ListenAddress> {
    const distributor = await this.#distributor?.listening;
    if (this.#stopping) return never;
    if (distributor && !("port" in distributor)) throw new Error("the distributor listens on no port");
    const meshArgs = distributor ? ["--distributor", reachable(distributor)] : [];
    this.#nodes = this.plan.nodes.map((node) => this.#supervise(node, meshArgs));
    for (const node of this.#nodes) node.start();
    const addresses = await Promise.all(this.#nodes.map((node) => node.listening));
    if (this.#stopping) return never;
    const gate = addresses[this.plan.nodes.findIndex((node) => node.role === "gate")];
    if (!("port" in gate)) throw new Error("the gateway listens on no port");
    return gate;
  }

  #supervise(planned: PlannedProcess, extraArgs: string[]): Supervisor {
    const { entryPoint, cwd, log } = this.options;
    const { runtime, logFormat, logLevel, readyTimeoutMs } = this.plan;
    const args = [...planned.args, "--log", logFormat, "--log-level", logLevel, ...extraArgs];
    const file = planned.file ?? entryPoint(planned.role);
    return new Supervisor({
      name: planned.name,
      port: planned.port,
      command: (port) => runtimeCommand(runtime, file, ["--port", String(port), ...args]),
      // A user's service runs where its own package.json and node_modules are.
      cwd: planned.file === undefined ? cwd : process.cwd(),
      log,
      format: logFormat,
      readyTimeoutMs,
      gaveUp: this.#fail,
    });
  }
}

/**
 * Puts the plan's variables for the nodes (the NATS settings) into the launcher's own environment, which every
 * child inherits (Supervisor spawns with it): they reach the children without appearing in any argv. Unset
 * entries are removed, so a variable the launcher was started with cannot add to what the plan decided.
 */
function passToChildren(variables: Record<string, string | undefined>): void {
  for (const [name, value] of Object.entries(variables)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
}

/** Where the other processes reach the distributor: its own address, or loopback when it listens on all of them. */
function reachable({ address, family, port }: ListenAddress): string {
  if (address === "0.0.0.0") return `127.0.0.1:${port}`;
  if (address === "::") return `[::1]:${port}`;
  return family === "IPv6" ? `[${address}]:${port}` : `${address}:${port}`;
}

/** What `up` is left waiting on once the system stops: it must not announce a system that is going away. */
const never = new Promise<never>(() => {});
