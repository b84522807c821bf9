/**
 * Keeps one child process running: starts it, relays its output (as `[name] line`, or as JSON lines naming it),
 * learns its real port from its readiness line (lib/launcher/readiness.ts), restarts it with back-off when it exits
 * unexpectedly (on the same port, so whoever was told that port finds it again), and stops it on request.
 *
 * Before its first successful start, it gives up on a process that exits before listening 3 times in a row (a
 * port in use, a bad argument or a broken install, which no restart fixes; looping on it forever would hide the
 * problem) or that is not ready within the ready timeout, and says so. Once a process has been ready, it is
 * restarted for good, with the back-off (250 ms doubling to 10 s), each failure logged: a service on MySQL that
 * crashes while MySQL is away must come back with it, not take the whole system down.
 *
 * Each child gets a stdin pipe, and closing it is how the child is asked to stop (SIGKILL follows after a grace
 * period): the children leave SIGINT and SIGTERM to the launcher, so a signal to the whole process group stops them
 * in order. If the launcher dies, even by SIGKILL, the pipe ends as well and the child stops itself.
 */
import type { ChildProcess } from "node:child_process";
import process from "node:process";
import type { Writable } from "node:stream";
import { Backoff, RESTART_BACKOFF } from "../backoff.ts";
import type { LogFormat, Logger } from "../log.ts";
import { signalProcess, spawnCommand } from "../runtime/mod.ts";
import { eachLine } from "./lines.ts";
import { newNonce, readyAddressIn, type ReceivesAt, SUPERVISED_VARIABLE } from "./readiness.ts";

const STARTS_BEFORE_GIVING_UP = 3;

export interface SupervisorOptions {
  name: string;
  /** 0 for any free port; restarts then use the port the process got. */
  port: number;
  /** The argv that runs the process on `port`: a command line, or what `spawn` takes. */
  command(port: number): string[];
  /**
   * Starts the process from `command`'s argv, with `env` added to this process's environment, stdin, stdout and
   * stderr piped. By default the argv is a command line, run in `cwd`; a gateway's workers are started by the
   * runtime instead (lib/gateway/workers.ts).
   */
  spawn?(argv: string[], env: Record<string, string>): ChildProcess;
  cwd: string;
  log: Logger;
  /** How the launcher writes: human lines get a `[name] ` prefix; in JSON every line is a JSON object. */
  format: LogFormat;
  /** Each start must be ready within this time: before the first success the supervisor gives up, after it restarts. */
  readyTimeoutMs: number;
  /** Called once, when the supervisor gives up on the process (see above); it is not restarted again. */
  gaveUp(reason: string): void;
}

/** One start of the process, from spawn to exit. */
interface Run {
  child: ChildProcess;
  /** Proves its readiness line (readiness.ts). */
  nonce: string;
  startedAt: number;
  listened: boolean;
  readyTimer?: ReturnType<typeof setTimeout>;
  ended: Promise<void>;
  end(): void;
}

export class Supervisor {
  /** Where the process first said it was ready: its address, or its NATS subject. */
  readonly listening: Promise<ReceivesAt>;
  #announceListening!: (address: ReceivesAt) => void;
  #port: number;
  #run?: Run;
  #failedStartsInARow = 0;
  /** Once the process has been ready, no failure makes the supervisor give up on it. */
  #everReady = false;
  #backoff = new Backoff(RESTART_BACKOFF);
  #restartTimer?: ReturnType<typeof setTimeout>;
  #stopping = false;

  constructor(readonly options: SupervisorOptions) {
    this.#port = options.port;
    this.listening = new Promise((resolve) => this.#announceListening = resolve);
  }

  start(): void {
    const { name, log, cwd } = this.options;
    const nonce = newNonce();
    const argv = this.options.command(this.#port);
    const env = { [SUPERVISED_VARIABLE]: nonce };
    const child = this.options.spawn ? this.options.spawn(argv, env) : spawnCommand(argv, env, cwd, "pipe");
    let end!: () => void;
    const ended = new Promise<void>((resolve) => end = resolve);
    const run: Run = { child, nonce, startedAt: Date.now(), listened: false, ended, end };
    this.#run = run;
    if (child.pid !== undefined) {
      log.info(`${name} started (pid ${child.pid}, ${this.#port === 0 ? "any free port" : `port ${this.#port}`})`);
    }
    // A child that exits before reading its stdin must not make the launcher fail on a broken pipe.
    child.stdin!.on("error", () => {});
    run.readyTimer = setTimeout(() => this.#notReady(run), this.options.readyTimeoutMs);
    eachLine(child.stdout!, (line) => {
      // Only stdout carries the control line, and only once: anything else is the child's own output.
      const address = run.listened ? undefined : readyAddressIn(line, run.nonce);
      if (address === undefined) this.#relay(process.stdout, line);
      else this.#ready(run, address);
    });
    eachLine(child.stderr!, (line) => this.#relay(process.stderr, line));
    // 'close' rather than 'exit': it comes after the child's last lines, which belong before the news of its end.
    child.on("close", (code, signal) => this.#ended(run, code === null ? `signal ${signal}` : `exit code ${code}`));
    child.on("error", (error) => this.#ended(run, error.message));
  }

  /** From now on an exit is final: while a system stops, its processes may exit in any order, or at Ctrl-C all at once. */
  stopRestarting(): void {
    this.#stopping = true;
    clearTimeout(this.#restartTimer);
  }

  /** Stops the process for good: closes its stdin (lib/main.ts), then SIGKILL after `graceMs`. Resolves once it has exited. */
  async stop(graceMs = 5000): Promise<void> {
    this.stopRestarting();
    const run = this.#run;
    if (run === undefined) return;
    run.child.stdin!.end();
    const killer = setTimeout(() => {
      this.options.log.warn(`${this.options.name} did not stop within ${graceMs} ms; killing it`);
      sendSignal(run.child, "SIGKILL");
    }, graceMs);
    await run.ended;
    clearTimeout(killer);
  }

  #relay(destination: Writable, line: string): void {
    const { name, format } = this.options;
    destination.write(format === "json" ? jsonLine(name, line, destination === process.stderr) : `[${name}] ${line}\n`);
  }

  #ready(run: Run, address: ReceivesAt): void {
    run.listened = true;
    this.#everReady = true;
    clearTimeout(run.readyTimer);
    // Started again on the port it got (a NATS service has none: it is reached by its subject).
    if ("port" in address) this.#port = address.port;
    this.#announceListening(address);
  }

  #notReady(run: Run): void {
    if (this.#run !== run || this.#stopping) return;
    const { name, readyTimeoutMs, log } = this.options;
    if (this.#everReady) {
      // Its exit brings the next start, after the back-off.
      log.warn(`${name} was not ready within ${readyTimeoutMs} ms (--ready-timeout); killing it to start it again`);
      sendSignal(run.child, "SIGKILL");
      return;
    }
    this.#stopping = true;
    this.options.gaveUp(
      `${name} was not ready within ${readyTimeoutMs} ms (--ready-timeout); its own lines above may say why`,
    );
  }

  #ended(run: Run, reason: string): void {
    if (this.#run !== run) return; // a spawn error may be followed by 'close': one end per run
    this.#run = undefined;
    clearTimeout(run.readyTimer);
    run.end();
    if (this.#stopping) return;
    const { name, log } = this.options;
    if (!this.#everReady && ++this.#failedStartsInARow >= STARTS_BEFORE_GIVING_UP) {
      this.#stopping = true;
      this.options.gaveUp(
        `${name} exited before listening ${STARTS_BEFORE_GIVING_UP} times in a row (the last time: ${reason})`,
      );
      return;
    }
    const uptimeMs = Date.now() - run.startedAt;
    const delayMs = this.#backoff.delayAfter(uptimeMs);
    const lasted = run.listened ? `after ${(uptimeMs / 1000).toFixed(1)} s` : "before listening";
    log.warn(`${name} exited (${reason}) ${lasted}; restarting in ${delayMs} ms`);
    this.#restartTimer = setTimeout(() => this.start(), delayMs);
  }
}

/**
 * A child's line as one JSON line naming the child as the launcher does (`goods#2`): its own JSON log line, or
 * anything else it printed (a runtime's warning, a stack trace) wrapped as an `output` event.
 */
function jsonLine(name: string, line: string, fromStderr: boolean): string {
  let entry;
  try {
    entry = JSON.parse(line);
  } catch { /* not a log line */ }
  if (typeof entry === "object" && entry !== null && !Array.isArray(entry)) {
    return entry.process === name ? `${line}\n` : `${JSON.stringify({ ...entry, process: name })}\n`;
  }
  const level = fromStderr ? "warn" : "info";
  return `${
    JSON.stringify({ time: new Date().toISOString(), level, process: name, event: "output", details: [line] })
  }\n`;
}

function sendSignal(child: ChildProcess, signal: NodeJS.Signals): void {
  signalProcess(child.pid, signal);
}
