/**
 * The launcher's command line, turned into the processes to run: which entry point, under which name, on which
 * port. Parsed with node:util parseArgs; every mistake is a UsageError that says what was wrong.
 */
import { parseArgs } from "node:util";
import { parsePort, parsePositiveInteger, UsageError } from "../config.ts";
import { type LogFormat, parseLogFormat } from "../log.ts";
import type { RuntimeName } from "../runtime/mod.ts";

export const USAGE = "usage: up [--runtime node|bun|deno] [--instances SERVICE=N[,SERVICE=N…]]… "
  + "[--distributor-port N] [--gate-port N] [--ports free] [--log human|json]";

const SERVICES = ["goods", "members", "purchases"] as const;
type Service = typeof SERVICES[number];

/** Each role is an entry point in services/ (`services/<role>.ts`). */
export type Role = "distributor" | "gate" | Service;

/** docs/protocol.md §1. */
const DEFAULT_PORTS: Record<Role, number> = {
  distributor: 9000,
  gate: 8000,
  goods: 9010,
  members: 9020,
  purchases: 9030,
};

const RUNTIMES: readonly RuntimeName[] = ["node", "bun", "deno"];

export interface PlannedProcess {
  role: Role;
  /** The role, or `goods#2`, `goods#3`… for the extra instances of a service: the prefix of its output lines. */
  name: string;
  /** 0 lets the system choose; the real port is read from the process's `listen` line. */
  port: number;
}

export interface LaunchPlan {
  /** The runtime every child runs on. */
  runtime: RuntimeName;
  /** Given to every child as `--log`; when unset, each child follows PILCROW_LOG or prints human lines. */
  logFormat?: LogFormat;
  distributor: PlannedProcess;
  /** The gateway and the services: they register with the distributor, so they start once it listens. */
  nodes: PlannedProcess[];
}

export function parseLaunchPlan(args: string[], currentRuntime: RuntimeName): LaunchPlan {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        runtime: { type: "string" },
        instances: { type: "string", multiple: true },
        "distributor-port": { type: "string" },
        "gate-port": { type: "string" },
        ports: { type: "string" },
        log: { type: "string" },
      },
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.ports !== undefined && values.ports !== "free") {
    throw new UsageError(`--ports takes only "free" (every process on a port the system chooses), not ${values.ports}`);
  }
  const defaultPort = (role: Role, instance = 0) => values.ports === "free" ? 0 : DEFAULT_PORTS[role] + instance;
  const portOf = (role: Role, given: string | undefined) =>
    given === undefined ? defaultPort(role) : parsePort(given, `--${role}-port`);
  const counts = parseInstances(values.instances ?? []);
  const plan: LaunchPlan = {
    runtime: parseRuntime(values.runtime ?? currentRuntime),
    logFormat: values.log === undefined ? undefined : parseLogFormatOption(values.log),
    distributor: { role: "distributor", name: "distributor", port: portOf("distributor", values["distributor-port"]) },
    nodes: [
      { role: "gate", name: "gate", port: portOf("gate", values["gate-port"]) },
      ...SERVICES.flatMap((service) =>
        Array.from({ length: counts.get(service) ?? 1 }, (_, index) => ({
          role: service,
          name: index === 0 ? service : `${service}#${index + 1}`,
          port: defaultPort(service, index),
        }))
      ),
    ],
  };
  checkDistinctPorts([plan.distributor, ...plan.nodes]);
  return plan;
}

/** `goods=2` or `goods=2,members=3`, from any number of `--instances` options. */
function parseInstances(options: string[]): Map<Service, number> {
  const counts = new Map<Service, number>();
  for (const item of options.flatMap((option) => option.split(","))) {
    const [service, count, ...rest] = item.split("=");
    if (!isService(service) || count === undefined || rest.length > 0) {
      throw new UsageError(`--instances takes SERVICE=N with SERVICE one of ${SERVICES.join(", ")}, not ${item}`);
    }
    if (counts.has(service)) throw new UsageError(`--instances gives ${service} twice`);
    counts.set(service, parsePositiveInteger(count, `the number of ${service} instances`));
  }
  return counts;
}

function isService(name: string): name is Service {
  return (SERVICES as readonly string[]).includes(name);
}

function parseRuntime(name: string): RuntimeName {
  const runtime = RUNTIMES.find((candidate) => candidate === name);
  if (runtime === undefined) throw new UsageError(`--runtime must be one of ${RUNTIMES.join(", ")}, not ${name}`);
  return runtime;
}

function parseLogFormatOption(value: string): LogFormat {
  try {
    return parseLogFormat(value);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** Extra instances take the ports after their service's, so enough of them run into the next service's port. */
function checkDistinctPorts(processes: PlannedProcess[]): void {
  const owners = new Map<number, string>();
  for (const { name, port } of processes) {
    const owner = owners.get(port);
    if (owner !== undefined) throw new UsageError(`${owner} and ${name} would both listen on port ${port}`);
    if (port !== 0) owners.set(port, name);
  }
}
