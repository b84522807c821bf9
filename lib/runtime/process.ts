/**
 * Process-level facilities. node:process and node:child_process behave the same on all three runtimes,
 * so only the command that runs a TypeScript file differs.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createRequire } from "node:module";
import { dirname } from "node:path";
import process from "node:process";
import { pathToFileURL } from "node:url";
import { type RuntimeName, runtimeName } from "./detect.ts";

export function commandLineArguments(): string[] {
  return process.argv.slice(2);
}

export function environment(name: string): string | undefined {
  return process.env[name];
}

export function onShutdownSignal(handler: (signal: "SIGINT" | "SIGTERM") => void): void {
  process.on("SIGINT", () => handler("SIGINT"));
  process.on("SIGTERM", () => handler("SIGTERM"));
}

/**
 * Calls `handler` once stdin ends: when it is a pipe from a parent (the launcher), that is the parent gone, even
 * killed outright. Only for a process whose stdin is such a pipe: a terminal's never ends.
 */
export function onInputEnd(handler: () => void): void {
  let called = false;
  const once = () => {
    if (!called) handler();
    called = true;
  };
  process.stdin.on("end", once);
  process.stdin.on("close", once);
  process.stdin.on("error", once);
  process.stdin.resume();
}

/**
 * Calls `handler` once this process's parent has gone and it has been re-parented (to init or a subreaper): no
 * runtime signals that, so process.ppid is polled. It is read afresh each time on Node, Bun and Deno alike.
 */
export function onParentGone(handler: () => void, intervalMs = 500): void {
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    handler();
  }, intervalMs);
}

export function exit(code: number): never {
  process.exit(code);
}

/**
 * Sends a signal to a process by pid; false when it is gone. Use this rather than ChildProcess.kill:
 * Deno's ChildProcess.kill delivers only the first signal sent to a child.
 */
export function signalProcess(pid: number | undefined, signal: NodeJS.Signals | 0): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** The files a process reads beyond the project: TLS for the TCP mesh and for NATS, and NATS credentials. */
const FILE_VARIABLES = [
  "PILCROW_TLS_CERT",
  "PILCROW_TLS_KEY",
  "PILCROW_TLS_CA",
  "PILCROW_NATS_CREDS",
  "PILCROW_NATS_TLS_CA",
  "PILCROW_NATS_TLS_CERT",
  "PILCROW_NATS_TLS_KEY",
];

/**
 * The narrowest Deno permissions Pilcrow's processes run with: the network (listen, connect to the mesh
 * and to MySQL), environment variables (PILCROW_*, MYSQL_URL…), and reading the project directory (the
 * sources and node_modules; the process is started there) and the files PILCROW_TLS_* and PILCROW_NATS_CREDS,
 * _TLS_* name, which usually live elsewhere. Read from the environment when a child is started (runtimeCommand):
 * the launcher puts the NATS settings it was given as flags there for its children. A service given `--data-dir` is also allowed to read and write that directory, and only
 * that (see runtimeCommand). And the machine's name: a gateway on a wildcard address (`--host 0.0.0.0`) names it in
 * the live page's link, and failed to start without it.
 */
export function denoPermissions(): string[] {
  return ["--allow-net", "--allow-env", `--allow-read=${[".", ...namedFiles()].join(",")}`, "--allow-sys=hostname"];
}

/** denoPermissions() as the environment was when this module loaded. */
export const DENO_PERMISSIONS: string[] = denoPermissions();
/**
 * The launcher also runs its children, and may run only them: Deno itself, or Bun or Node (--runtime). Deno 2
 * takes the binaries' paths (the real path: not a symlink to it) or, for node, a name looked up in PATH.
 */
export const DENO_LAUNCHER_PERMISSIONS: string[] = [...DENO_PERMISSIONS, `--allow-run=${childRuntimes().join(",")}`];

/** The binaries the launcher may start; bun or deno left out when not installed (a project without them). */
function childRuntimes(): string[] {
  const installed = (["deno", "bun"] as const).flatMap((name) => {
    try {
      return [binary(name).replaceAll(",", ",,")];
    } catch {
      return [];
    }
  });
  return [...installed, "node"];
}

function namedFiles(): string[] {
  return FILE_VARIABLES.map((name) => (process.env[name] ?? "").replaceAll(",", ",,")).filter(Boolean);
}

/**
 * The argv that runs `file` (a .ts entry point) on `runtime`: what the launcher and the tests spawn.
 * Start it with the project root as working directory.
 */
export function runtimeCommand(
  runtime: RuntimeName,
  file: string,
  args: string[] = [],
  permissions: string[] = denoPermissions(),
): string[] {
  switch (runtime) {
    case "bun":
      return [binary("bun"), "run", file, ...args];
    case "deno":
      return [binary("deno"), "run", ...withWorkers(withDataDirectory(permissions, args), args), file, ...args];
    case "node":
      // Built JavaScript (an installed package) runs as it is; TypeScript needs tsx's loader, by absolute URL
      // (a bare `--import tsx` would be looked up from the child's cwd).
      return file.endsWith(".ts")
        ? [nodeBinary(), "--import", tsxLoader(file), file, ...args]
        : [nodeBinary(), file, ...args];
  }
}

/**
 * The permissions plus read and write on the data directory of a service started with `--data-dir PATH` (the
 * launcher always gives its services one, absolute): SQLite's file and its -wal and -shm files live there, and
 * the directory is created at start-up if missing; and on the folder of a logs service's `--logs-file PATH`, where
 * it writes and rotates. Write is granted on those folders only, not on the project or the whole disk; a process
 * with neither (the distributor, the gateway) gets none. Deno reads a comma in a path list as a separator unless
 * doubled.
 */
function withDataDirectory(permissions: string[], args: string[]): string[] {
  const dataDir = flagValue(args, "--data-dir");
  const logsFile = flagValue(args, "--logs-file");
  const folders = [
    // `:memory:` (lib/config.ts IN_MEMORY) touches no file.
    ...(dataDir === undefined || dataDir === "" || dataDir === ":memory:" ? [] : [dataDir]),
    ...(logsFile === undefined || logsFile === "" ? [] : [dirname(logsFile)]),
  ];
  if (folders.length === 0) return permissions;
  if (permissions.includes("-A") || permissions.includes("--allow-all")) return permissions;
  const paths = folders.map((folder) => folder.replaceAll(",", ",,")).join(",");
  // One flag per permission: a list is extended, a grant of everything left as it is.
  const grant = (list: string[], kind: "read" | "write") => {
    if (list.includes(`--allow-${kind}`)) return list;
    const flag = `--allow-${kind}=`;
    return list.some((item) => item.startsWith(flag))
      ? list.map((item) => item.startsWith(flag) ? `${item},${paths}` : item)
      : [...list, `${flag}${paths}`];
  };
  return grant(grant(permissions, "read"), "write");
}

/**
 * The permissions plus running Deno itself, for a gateway started with `--workers N` (N other than 1): it starts its
 * workers (lib/gateway/workers.ts). Only that binary: a gateway runs nothing else.
 */
function withWorkers(permissions: string[], args: string[]): string[] {
  const workers = flagValue(args, "--workers");
  if (workers === undefined || workers === "1") return permissions;
  if (permissions.some((item) => item === "-A" || item === "--allow-all" || item === "--allow-run")) return permissions;
  const deno = binary("deno").replaceAll(",", ",,");
  return permissions.some((item) => item.startsWith("--allow-run="))
    ? permissions.map((item) => item.startsWith("--allow-run=") ? `${item},${deno}` : item)
    : [...permissions, `--allow-run=${deno}`];
}

/** The value of the last `--name VALUE` or `--name=VALUE` in `args`. */
function flagValue(args: string[], name: string): string | undefined {
  const index = args.findLastIndex((arg) => arg === name || arg.startsWith(`${name}=`));
  if (index === -1) return undefined;
  return args[index] === name ? args[index + 1] : args[index].slice(name.length + 1);
}

/** tsx, from Pilcrow's own dependencies or else from the project of the file (a user's service). */
function tsxLoader(file: string): string {
  for (const from of [import.meta.url, pathToFileURL(file).href]) {
    try {
      return pathToFileURL(createRequire(from).resolve("tsx")).href;
    } catch { /* not there: try the next place */ }
  }
  throw new Error(`running ${file} on Node needs tsx: npm install --save-dev tsx (or run it on bun or deno)`);
}

/** The runtime's own binary when we are on it, else the one npm installed (bun and deno are devDependencies). */
function binary(name: "bun" | "deno"): string {
  if (runtimeName === name) return process.execPath;
  const require = createRequire(import.meta.url);
  const packageJson = require.resolve(`${name}/package.json`);
  return packageJson.replace(/package\.json$/, name === "bun" ? "bin/bun.exe" : "deno");
}

function nodeBinary(): string {
  return runtimeName === "node" ? process.execPath : "node";
}

/** Spawns with the current environment plus `env`; a variable set to undefined there is removed. */
export function spawnCommand(
  argv: string[],
  env: Record<string, string | undefined> = {},
  cwd?: string,
  /** "pipe" gives the child a stdin that ends when this process does (see onInputEnd). */
  stdin: "ignore" | "pipe" = "ignore",
): ChildProcess {
  const merged: Record<string, string> = {};
  for (const [name, value] of Object.entries({ ...process.env, ...env })) {
    if (value !== undefined) merged[name] = value;
  }
  return spawn(argv[0], argv.slice(1), {
    cwd,
    env: merged,
    stdio: [stdin, "pipe", "pipe"],
  });
}
