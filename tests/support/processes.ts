/**
 * Real processes for black-box tests: each entry point is started on the runtime under test (or the one
 * PILCROW_TEST_RUNTIME names), on port 0 so the system picks a free port, which is read back from the
 * process's own `listen` log line (JSON log format). A shipped service, or the launcher, keeps its embedded store
 * in a data directory of its own, new and empty, removed when it exits, unless the test gives one: no test sees
 * another's data, or the ./data of someone running the system by hand.
 */
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runtimeCommand, type RuntimeName, runtimeName, signalProcess, spawnCommand } from "../../lib/runtime/mod.ts";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));

export interface LogEntry {
  level: string;
  process: string;
  event: string;
  details: unknown[];
  /** A child logger's fields: a request's ids. */
  requestId?: string;
  traceId?: string;
}

export interface StartOptions {
  runtime?: RuntimeName;
  env?: Record<string, string | undefined>;
  /** Wait for the `listen` line (default true). */
  waitForListen?: boolean;
  /** Deno's permissions, when the entry needs more than a service (the launcher runs children). */
  denoPermissions?: string[];
  /**
   * The data directory of a shipped service or of the launcher's services (`--data-dir`, PILCROW_DATA_DIR): kept
   * when given (the test removes it); by default a new one, removed when the process exits. Ignored when the
   * arguments give `--data-dir`.
   */
  dataDir?: string;
}

const SERVICES = ["goods", "members", "purchases"];

/** Whether the entry opens a store itself (a shipped service) or through its children (the launcher). */
function storeRole(entry: string, args: string[]): "service" | "launcher" | undefined {
  const command = entry === "bin/pilcrow.ts" ? args[0] : entry.replace(/\.ts$/, "");
  if (args.includes("--help") || args.some((arg) => arg.startsWith("--data-dir"))) return undefined;
  return command === "up" ? "launcher" : SERVICES.includes(command) ? "service" : undefined;
}

/** A new, empty data directory; the caller removes it (removeDataDir). */
export function temporaryDataDir(): string {
  return mkdtempSync(join(tmpdir(), "pilcrow-data-"));
}

export function removeDataDir(dataDir: string): void {
  rmSync(dataDir, { recursive: true, force: true });
}

export function testRuntime(): RuntimeName {
  return (process.env.PILCROW_TEST_RUNTIME as RuntimeName | undefined) ?? runtimeName;
}

export class RunningProcess {
  readonly entries: LogEntry[] = [];
  readonly output: string[] = [];
  port = 0;
  #waiters = new Set<() => void>();
  #exited: Promise<number | null>;
  #hasExited = false;

  constructor(readonly name: string, readonly child: ChildProcess) {
    let buffered = "";
    const onText = (text: string) => {
      buffered += text;
      const lines = buffered.split("\n");
      buffered = lines.pop()!;
      for (const line of lines) this.#onLine(line);
    };
    child.stdout!.setEncoding("utf8").on("data", onText);
    child.stderr!.setEncoding("utf8").on("data", onText);
    this.#exited = new Promise((resolve) =>
      child.on("exit", (code) => {
        this.#hasExited = true;
        resolve(code);
      })
    );
  }

  get exited(): Promise<number | null> {
    return this.#exited;
  }

  get running(): boolean {
    return !this.#hasExited;
  }

  #onLine(line: string): void {
    this.output.push(line);
    if (line.startsWith("{")) {
      try {
        this.entries.push(JSON.parse(line));
      } catch { /* not a log entry */ }
    }
    for (const wake of this.#waiters) wake();
  }

  /** Waits until a log entry satisfies the predicate; fails with the process's output if it does not. */
  async waitFor(predicate: (entry: LogEntry) => boolean, timeoutMs = 10_000, from = 0): Promise<LogEntry> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.entries.slice(from).find(predicate);
      if (found) return found;
      const remaining = deadline - Date.now();
      if (remaining <= 0 || this.#hasExited) {
        throw new Error(`${this.name}: expected log entry did not come. Output:\n${this.output.join("\n")}`);
      }
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.#waiters.delete(wake);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(wake, Math.min(remaining, 200));
        this.#waiters.add(wake);
      });
    }
  }

  waitForEvent(event: string, timeoutMs?: number, from?: number): Promise<LogEntry> {
    return this.waitFor((entry) => entry.event === event, timeoutMs, from);
  }

  signal(signal: NodeJS.Signals): void {
    if (!this.#hasExited) signalProcess(this.child.pid, signal);
  }

  /** Stops the process (SIGTERM, then SIGKILL after a grace period) and waits for it to exit. */
  async stop(graceMs = 3000): Promise<number | null> {
    if (this.#hasExited) return this.child.exitCode;
    this.signal("SIGCONT");
    this.signal("SIGTERM");
    const timer = setTimeout(() => this.signal("SIGKILL"), graceMs);
    const code = await this.#exited;
    clearTimeout(timer);
    return code;
  }
}

export async function startProcess(
  entry: string,
  args: string[] = [],
  options: StartOptions = {},
): Promise<RunningProcess> {
  const file = entry.includes("/") ? ROOT + entry : `${ROOT}services/${entry}`;
  const role = storeRole(entry, args);
  const ownDataDir = role !== undefined && options.dataDir === undefined ? temporaryDataDir() : undefined;
  const dataDir = role === undefined ? undefined : options.dataDir ?? ownDataDir;
  // The launcher passes --data-dir to its services itself (read from PILCROW_DATA_DIR); a service is given it
  // (on Deno, the permission to write there is derived from it: runtimeCommand).
  const storeArgs = role === "service" ? ["--data-dir", dataDir!] : [];
  const argv = runtimeCommand(options.runtime ?? testRuntime(), file, [...args, ...storeArgs], options.denoPermissions);
  // The store is the test's choice: a MYSQL_URL meant for the MySQL suites must not leak into the others.
  const storeless = {
    MYSQL_URL: undefined,
    GOODS_MYSQL_URL: undefined,
    MEMBERS_MYSQL_URL: undefined,
    PURCHASES_MYSQL_URL: undefined,
  };
  const dataDirEnv = dataDir === undefined ? {} : { PILCROW_DATA_DIR: dataDir };
  const child = spawnCommand(argv, { PILCROW_LOG: "json", ...storeless, ...dataDirEnv, ...options.env }, ROOT);
  const running = new RunningProcess(entry.replace(/^.*\/|\.ts$/g, ""), child);
  if (ownDataDir !== undefined) void running.exited.then(() => removeDataDir(ownDataDir));
  if (options.waitForListen ?? true) {
    const listen = await running.waitForEvent("listen", 30_000);
    running.port = (listen.details[0] as { port: number }).port;
  }
  return running;
}

/** Stops every process given, in parallel, ignoring the ones already gone. */
export async function stopAll(processes: (RunningProcess | undefined)[]): Promise<void> {
  await Promise.all(processes.map((running) => running?.stop()));
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls until `check` returns a value that is not undefined, or fails after `timeoutMs`. */
export async function eventually<T>(
  check: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 10_000,
  /** What is waited for, in the error; a function is asked only then (to say what was seen instead). */
  what: string | (() => string) = "condition",
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${typeof what === "string" ? what : what()}`);
    await delay(20);
  }
}

/** A port free on 127.0.0.1 now (the system's pick): for a server a test starts itself. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
