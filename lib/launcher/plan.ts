/**
 * The launcher's command line, turned into the processes to run: which entry point, under which name, on which
 * port. Parsed with node:util parseArgs; every mistake is a UsageError that says what was wrong.
 */
import { basename, extname, resolve } from "node:path";
import { parseArgs } from "node:util";
import { type OptionTable, parseArgsOptions } from "../cli/options.ts";
import {
  COMMON_OPTIONS,
  GATE_OPTIONS,
  LAUNCHER_OPTIONS,
  MESH_NODE_OPTIONS,
  NATS_OPTIONS,
  SERVICE_OPTIONS,
} from "../cli/tables.ts";
import {
  type CommonConfig,
  DEFAULT_DATA_DIR,
  IN_MEMORY,
  parseDataDir,
  parseDuration,
  parsePort,
  parsePositiveInteger,
  UsageError,
} from "../config.ts";
import { parseWorkerCount } from "../gateway/workers.ts";
import { type LogFormat, type LogLevel, parseLogFormat, parseLogLevel } from "../log.ts";
import { LOGS_OPTIONS, LOGS_PORT, readLogsFileSettings } from "../logs/settings.ts";
import { natsEnvironment, type NatsSettings, readNatsSettings } from "../mesh/nats/settings.ts";
import type { RuntimeName } from "../runtime/mod.ts";

export const USAGE = "pilcrow up [options]";

/**
 * The children's options the launcher takes and passes on as arguments; each child is told its port and the
 * distributor's. The NATS settings are passed in the environment instead (LaunchPlan.nodeEnvironment): they may
 * hold credentials, and `ps` shows every process's arguments to every user of the machine.
 */
const PASSED_TO_ALL = COMMON_OPTIONS.filter(({ name }) =>
  // --log and --log-level are given to every child from the plan (system.ts), once.
  !["port", "distributor", "log", "log-level"].includes(name) && !NATS_OPTIONS.some((nats) => nats.name === name)
);

/**
 * `--logs`: also run the logs service (docs/logs.md), and have every other node send it its lines (--log-to-mesh).
 * Off by default: the book's system has no logs service, and a file of every line is a choice.
 */
const LOGS_LAUNCHER_OPTION: OptionTable = [
  {
    name: "logs",
    env: "PILCROW_LOGS=1",
    description: "also run the logs service (port 9040), every other node sending it its lines (--log-to-mesh)",
  },
];

/** Every option `up` takes, in the order of its --help. */
export const UP_OPTIONS: OptionTable = [
  ...LAUNCHER_OPTIONS,
  ...LOGS_LAUNCHER_OPTION,
  ...COMMON_OPTIONS.filter(({ name }) => name === "log" || name === "log-level"),
  ...PASSED_TO_ALL,
  ...NATS_OPTIONS,
  ...MESH_NODE_OPTIONS,
  ...GATE_OPTIONS,
  ...SERVICE_OPTIONS,
  ...LOGS_OPTIONS,
];

const DEFAULT_READY_TIMEOUT_MS = 30_000;
/** A start that takes longer is broken; and timers cannot wait more than 2^31-1 ms (they would fire at once). */
const MAX_READY_TIMEOUT_MS = 3_600_000;

const SERVICES = ["goods", "members", "purchases"] as const;
type Service = typeof SERVICES[number];

/** Each role is an entry point in services/ (`services/<role>.ts`); "user" is a service file given with --service. */
export type Role = "distributor" | "gate" | Service | "logs" | "user";

/** docs/protocol.md §1. */
const DEFAULT_PORTS: Record<Exclude<Role, "user">, number> = {
  distributor: 9000,
  gate: 8000,
  goods: 9010,
  members: 9020,
  purchases: 9030,
  logs: LOGS_PORT,
};

const RUNTIMES: readonly RuntimeName[] = ["node", "bun", "deno"];

export interface PlannedProcess {
  role: Role;
  /** The role, or `goods#2`, `goods#3`… for the extra instances of a service: the prefix of its output lines. */
  name: string;
  /** 0 lets the system choose; the real port is read from the process's readiness line. */
  port: number;
  /** A user's service file (absolute), run from the directory the launcher was started in. */
  file?: string;
  /** The options given to the launcher that this process takes. */
  args: string[];
}

export interface LaunchPlan {
  /** The runtime every child runs on. */
  runtime: RuntimeName;
  /** The launcher's own format and level (from --log, --log-level or PILCROW_LOG, PILCROW_LOG_LEVEL), its children's too. */
  logFormat: LogFormat;
  logLevel: LogLevel;
  readyTimeoutMs: number;
  /** The registry of the TCP mesh: started first, unless the nodes meet over NATS (`mesh`). */
  distributor: PlannedProcess;
  /** The gateway and the services: they register with the distributor, so they start once it listens. */
  nodes: PlannedProcess[];
  /** `--mesh` and its credentials (or PILCROW_MESH, PILCROW_NATS_*): the nodes join over NATS, no distributor runs. */
  mesh?: NatsSettings;
  /** Variables every node is started with: the NATS settings (natsEnvironment), none without a mesh. */
  nodeEnvironment: Record<string, string | undefined>;
}

/** The processes a plan starts, the distributor first when there is one. */
export function plannedProcesses(plan: LaunchPlan): PlannedProcess[] {
  return plan.mesh ? plan.nodes : [plan.distributor, ...plan.nodes];
}

export function parseLaunchPlan(
  args: string[],
  currentRuntime: RuntimeName,
  environment: (name: string) => string | undefined = () => undefined,
  cwd = ".",
): LaunchPlan {
  let values;
  try {
    ({ values } = parseArgs({ args, options: parseArgsOptions(UP_OPTIONS) }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const given = (table: OptionTable) =>
    table.flatMap(({ name, value }) => {
      const option = values[name];
      if (option === undefined || option === false) return [];
      return value === undefined ? [`--${name}`] : [`--${name}`, String(option)];
    });
  const withLogs = values.logs === true || environment("PILCROW_LOGS") === "1";
  const common = given(PASSED_TO_ALL);
  // With --logs the gateway and every service ship their lines (not the logs service: never to itself).
  const meshNodeArgs = withLogs || values["log-to-mesh"] === true ? ["--log-to-mesh"] : [];
  if (!withLogs && LOGS_OPTIONS.some(({ name }) => values[name] !== undefined)) {
    throw new UsageError("--logs-file, --logs-max-bytes and --logs-keep are the logs service's: add --logs");
  }
  const str = (value: unknown) => value as string | undefined;
  const dataDir = dataDirectory(str(values["data-dir"]) ?? environment("PILCROW_DATA_DIR"), cwd);
  const serviceArgs = [
    ...common,
    ...meshNodeArgs,
    ...given(SERVICE_OPTIONS.filter(({ name }) => name !== "data-dir")),
    "--data-dir",
    dataDir,
  ];
  if (values.ports !== undefined && values.ports !== "free") {
    throw new UsageError(`--ports takes only "free" (every process on a port the system chooses), not ${values.ports}`);
  }
  const defaultPort = (role: Exclude<Role, "user">, instance = 0) =>
    values.ports === "free" ? 0 : DEFAULT_PORTS[role] + instance;
  const portOf = (role: Exclude<Role, "user">, given: string | undefined) =>
    given === undefined ? defaultPort(role) : parsePort(given, `--${role}-port`);
  const counts = parseInstances(values.instances as string[] | undefined ?? []);
  // Given to the gateway as a flag even when it came as PILCROW_WORKERS: on Deno, that flag grants the gateway the
  // running of its workers (runtimeCommand).
  const workerCount = parseWorkerCount(str(values.workers) ?? environment("PILCROW_WORKERS"));
  const workers = workerCount > 1 ? ["--workers", String(workerCount)] : [];
  const mesh = checked(() => readNatsSettings(values, environment));
  const plan: LaunchPlan = {
    runtime: parseRuntime(str(values.runtime) ?? currentRuntime),
    logFormat: checked(() => parseLogFormat(str(values.log) ?? environment("PILCROW_LOG"))),
    logLevel: checked(() => parseLogLevel(str(values["log-level"]) ?? environment("PILCROW_LOG_LEVEL"))),
    readyTimeoutMs: parseReadyTimeout(str(values["ready-timeout"])),
    distributor: {
      role: "distributor",
      name: "distributor",
      port: portOf("distributor", str(values["distributor-port"])),
      args: common,
    },
    nodes: [
      {
        role: "gate",
        name: "gate",
        port: portOf("gate", str(values["gate-port"])),
        args: [...common, ...meshNodeArgs, ...given(GATE_OPTIONS.filter(({ name }) => name !== "workers")), ...workers],
      },
      ...SERVICES.flatMap((service) =>
        Array.from({ length: counts.get(service) ?? 1 }, (_, index) => ({
          role: service,
          name: index === 0 ? service : `${service}#${index + 1}`,
          port: defaultPort(service, index),
          args: serviceArgs,
        }))
      ),
      ...userServices(values.service as string[] | undefined ?? [], cwd, serviceArgs),
      ...(withLogs
        ? [{ role: "logs" as const, name: "logs", port: defaultPort("logs"), args: logsArgs(serviceArgs, values, cwd) }]
        : []),
    ],
    ...(mesh && { mesh }),
    nodeEnvironment: mesh ? natsEnvironment(mesh) : {},
  };
  if (values.timeout !== undefined) parseDuration(str(values.timeout)!, "--timeout");
  checkDistinctPorts(plannedProcesses(plan));
  return plan;
}

/**
 * The services' data directory, absolute: the shipped services run in the project root, not in the directory the
 * launcher was started in, which is where a relative path (the default ./data included) is meant from.
 */
function dataDirectory(given: string | undefined, cwd: string): string {
  const dataDir = parseDataDir(given ?? DEFAULT_DATA_DIR);
  return dataDir === IN_MEMORY ? dataDir : resolve(cwd, dataDir);
}

/**
 * The logs service's arguments: a service's, less --log-to-mesh (it would only say that it ignores it), and its own
 * options, the file's path made absolute as the data directory's is. Without a file of its own it writes in the data
 * directory, so that must be one.
 */
function logsArgs(serviceArgs: string[], values: Record<string, unknown>, cwd: string): string[] {
  const file = values["logs-file"] as string | undefined;
  // Checked here as the logs service checks them (a size too small, --data-dir :memory: without a file): a slip is a
  // usage error now, not a logs service the launcher restarts three times before it gives up.
  readLogsFileSettings(values as CommonConfig["values"], serviceArgs.at(-1)!);
  const sizes = LOGS_OPTIONS.filter(({ name }) => name !== "logs-file" && values[name] !== undefined)
    .flatMap(({ name }) => [`--${name}`, String(values[name])]);
  return [
    ...serviceArgs.filter((arg) => arg !== "--log-to-mesh"),
    ...(file === undefined ? [] : ["--logs-file", resolve(cwd, file)]),
    ...sizes,
  ];
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

function parseReadyTimeout(given: string | undefined): number {
  if (given === undefined) return DEFAULT_READY_TIMEOUT_MS;
  const ms = parsePositiveInteger(given, "--ready-timeout");
  if (ms > MAX_READY_TIMEOUT_MS) {
    throw new UsageError(`--ready-timeout must be at most ${MAX_READY_TIMEOUT_MS} ms (1 h), not ${given}`);
  }
  return ms;
}

function isService(name: string): name is Service {
  return (SERVICES as readonly string[]).includes(name);
}

function parseRuntime(name: string): RuntimeName {
  const runtime = RUNTIMES.find((candidate) => candidate === name);
  if (runtime === undefined) throw new UsageError(`--runtime must be one of ${RUNTIMES.join(", ")}, not ${name}`);
  return runtime;
}

function checked<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** `--service ./my-service.ts`: resolved from the launcher's directory, named after the file, on a free port. */
function userServices(files: string[], cwd: string, args: string[]): PlannedProcess[] {
  return files.map((file) => ({
    role: "user",
    name: basename(file, extname(file)),
    port: 0,
    file: resolve(cwd, file),
    args,
  }));
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
