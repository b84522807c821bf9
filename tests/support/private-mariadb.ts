/**
 * A private MariaDB server that one test suite owns, so it can stop it, freeze it and start it again: a
 * fresh data directory under a temp dir (mariadb-install-db takes about a second), `mariadbd` on a free
 * port of 127.0.0.1 with grant tables skipped (a throwaway server: root, no password). Without MariaDB's
 * binaries the suites are skipped with a message saying how to install them — except in CI (CI=true),
 * where that is a failure.
 *
 * Signals go through process.kill(pid): Deno's ChildProcess.kill delivers only the first signal sent to a
 * child, and a frozen server needs SIGSTOP, SIGCONT and SIGTERM.
 */
import mysql from "mysql2/promise";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { freePort } from "./processes.ts";

const SEARCHED = ["/usr/sbin", "/usr/local/sbin", "/usr/bin", "/usr/local/bin", "/usr/local/mysql/bin"];

/**
 * A file with an execute bit, its symlinks followed. Not accessSync(X_OK): Deno's does not follow symlinks (a
 * dangling `mysqld` link passes, Deno 2.9 here), and it passes directories on every runtime; a "found" server that
 * is not there would fail the suites even outside CI instead of skipping them.
 */
function isExecutableFile(path: string): boolean {
  try {
    const stats = statSync(path);
    return stats.isFile() && (stats.mode & 0o111) !== 0;
  } catch {
    return false;
  }
}

function findExecutable(...names: string[]): string | undefined {
  const directories = [...(process.env.PATH ?? "").split(delimiter).filter(Boolean), ...SEARCHED];
  for (const name of names) {
    for (const directory of directories) {
      const candidate = join(directory, name);
      if (isExecutableFile(candidate)) return candidate;
    }
  }
  return undefined;
}

const binaries = {
  server: findExecutable("mariadbd", "mysqld"),
  install: findExecutable("mariadb-install-db", "mysql_install_db"),
};

const HOW_TO_RUN = "install MariaDB's server binaries (apt-get install mariadb-server: mariadbd and "
  + "mariadb-install-db, found on PATH or in /usr/sbin) to run the tests on a private MariaDB (MySQL outage, "
  + "book database)";

if ((!binaries.server || !binaries.install) && process.env.CI === "true") {
  throw new Error(`CI=true but no mariadbd or mariadb-install-db was found: ${HOW_TO_RUN}`);
}

/** The `skip` option for a suite that needs a private MariaDB (said aloud too: not every runner prints it). */
export const skipWithoutMariadb: string | false = binaries.server && binaries.install
  ? false
  : `no mariadbd or mariadb-install-db: ${HOW_TO_RUN}`;

if (skipWithoutMariadb) console.warn(`skipping the private MariaDB tests: ${skipWithoutMariadb}`);

export interface PrivateMariadbOptions {
  /** The server's `--default-time-zone` (e.g. "+09:00"); the system's by default. */
  timeZone?: string;
}

export interface PrivateMariadb {
  readonly port: number;
  /** How long mariadb-install-db took. */
  readonly initMs: number;
  /** mysql://root@127.0.0.1:PORT/DATABASE */
  url(database?: string): string;
  /** Whether mariadbd is running (frozen counts as running). */
  readonly running: boolean;
  /** The server's output, for failure messages. */
  readonly output: string[];
  /** Starts mariadbd again on the same port and data directory, and waits until it accepts connections. */
  start(): Promise<void>;
  /** Stops mariadbd (SIGTERM, SIGKILL after a grace period) and waits for it to exit. */
  stop(graceMs?: number): Promise<void>;
  /** SIGSTOP: a hung server rather than a dead one; connections are accepted by the kernel and never answered. */
  freeze(): void;
  /** SIGCONT after freeze(). */
  thaw(): void;
  /** Kills mariadbd and removes the temp dir; safe to call more than once. */
  destroy(): Promise<void>;
}

function run(command: string, args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout!.setEncoding("utf8").on("data", (text: string) => output += text);
    child.stderr!.setEncoding("utf8").on("data", (text: string) => output += text);
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, output }));
  });
}

function signal(child: ChildProcess | undefined, name: NodeJS.Signals): void {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(child.pid!, name);
  } catch { /* exited meanwhile */ }
}

export async function startPrivateMariadb(options: PrivateMariadbOptions = {}): Promise<PrivateMariadb> {
  if (skipWithoutMariadb) throw new Error(skipWithoutMariadb);
  const directory = mkdtempSync(join(tmpdir(), "pilcrow-mariadb-"));
  const dataDir = join(directory, "data");
  // A tmpdir of its own: a MariaDB starting deletes every `#sql*` file in its tmpdir, which in /tmp are the live
  // temporary tables of the machine's own server (a CI run's MySQL suites failed with "Error on delete of /tmp/#sql…").
  const tmpDir = join(directory, "tmp");
  mkdirSync(tmpDir);
  const initStarted = Date.now();
  const install = await run(binaries.install!, [
    "--no-defaults",
    `--datadir=${dataDir}`,
    `--tmpdir=${tmpDir}`,
    "--auth-root-authentication-method=normal",
    "--skip-test-db",
    "--skip-name-resolve",
  ]);
  const initMs = Date.now() - initStarted;
  if (install.code !== 0) {
    rmSync(directory, { recursive: true, force: true });
    throw new Error(`${binaries.install} failed (exit ${install.code}):\n${install.output}`);
  }
  const port = await freePort();
  const args = [
    "--no-defaults",
    `--datadir=${dataDir}`,
    `--tmpdir=${tmpDir}`,
    `--port=${port}`,
    "--bind-address=127.0.0.1",
    `--socket=${join(directory, "mysqld.sock")}`,
    `--pid-file=${join(directory, "mysqld.pid")}`,
    "--user=root",
    "--skip-grant-tables",
    "--skip-name-resolve",
    "--innodb-buffer-pool-size=32M",
    ...(options.timeZone ? [`--default-time-zone=${options.timeZone}`] : []),
  ];
  const output: string[] = [];
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let alive = false;
  const isRunning = () => alive;
  const url = (database = "") => `mysql://root@127.0.0.1:${port}/${database}`;
  // Should the test process end abruptly, the server must not outlive it.
  const killOnExit = () => signal(child, "SIGKILL");
  process.on("exit", killOnExit);

  const start = async () => {
    if (isRunning()) throw new Error("the private MariaDB is already running");
    const current = spawn(binaries.server!, args, { stdio: ["ignore", "pipe", "pipe"] });
    child = current;
    alive = true;
    const onText = (text: string) => output.push(...text.split("\n").filter(Boolean));
    current.stdout!.setEncoding("utf8").on("data", onText);
    current.stderr!.setEncoding("utf8").on("data", onText);
    exited = new Promise((resolve) => {
      current.on("exit", () => {
        alive = false;
        resolve();
      });
      current.on("error", (error) => {
        output.push(`spawn error: ${error.message}`);
        alive = false;
        resolve();
      });
    });
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        const connection = await mysql.createConnection({ uri: url(), connectTimeout: 1000 });
        await connection.end();
        return;
      } catch (error) {
        if (!isRunning() || Date.now() > deadline) {
          signal(current, "SIGKILL");
          throw new Error(
            `the private MariaDB did not start (${(error as Error).message}):\n${output.slice(-30).join("\n")}`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  };

  const stop = async (graceMs = 15_000) => {
    if (!isRunning()) return;
    signal(child, "SIGCONT");
    signal(child, "SIGTERM");
    const timer = setTimeout(() => signal(child, "SIGKILL"), graceMs);
    await exited;
    clearTimeout(timer);
  };

  let destroyed = false;
  const destroy = async () => {
    if (destroyed) return;
    destroyed = true;
    signal(child, "SIGCONT");
    signal(child, "SIGKILL");
    await exited;
    process.off("exit", killOnExit);
    rmSync(directory, { recursive: true, force: true });
  };

  try {
    await start();
  } catch (error) {
    await destroy();
    throw error;
  }
  return {
    port,
    initMs,
    url,
    get running() {
      return isRunning();
    },
    output,
    start,
    stop,
    freeze: () => signal(child, "SIGSTOP"),
    thaw: () => signal(child, "SIGCONT"),
    destroy,
  };
}
