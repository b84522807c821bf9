/**
 * The HTTP load generator: wrk (C, one thread), chosen over autocannon because it was the steadier of the two here
 * and reports latency in microseconds (BENCHMARKS.md, "The load generator"). It must be installed separately.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";

export interface LoadSettings {
  threads: number;
  connections: number;
  warmupSeconds: number;
  seconds: number;
}

export interface LoadResult {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Non-2xx answers, socket errors and timeouts: a figure with any is not a clean measurement. */
  errors: number;
}

const INSTALL_HINT = "wrk is needed for the HTTP figures: install it (Debian/Ubuntu: apt-get install wrk; macOS: brew "
  + "install wrk) and run again.";

function run(args: string[], limitMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile("wrk", args, { timeout: limitMs, killSignal: "SIGKILL" }, (error, stdout, stderr) => {
      if ((error as NodeJS.ErrnoException | null)?.code === "ENOENT") reject(new Error(INSTALL_HINT));
      else if (error) reject(new Error(`wrk ${args.join(" ")} failed: ${stderr || stdout || error.message}`));
      else resolve(stdout);
    });
  });
}

/** wrk's version, or a clear error when it is not installed. */
export function wrkVersion(): Promise<string> {
  return new Promise((resolve, reject) => {
    // `wrk -v` prints its banner and exits 1.
    execFile("wrk", ["-v"], { timeout: 5000 }, (error, stdout) => {
      if ((error as NodeJS.ErrnoException | null)?.code === "ENOENT") reject(new Error(INSTALL_HINT));
      else resolve(/wrk (\S+)/.exec(stdout)?.[1] ?? "unknown version");
    });
  });
}

/**
 * What wrk sends: GET by default; `post-goods` POSTs one goods per request (post-goods.lua, which also counts the
 * answers whose errorcode is not 0: a failed write answers HTTP 200 in the book's protocol).
 */
export type Load = "get" | "post-goods";

const SCRIPTS: Record<Load, string[]> = {
  get: [],
  "post-goods": ["-s", fileURLToPath(new URL("post-goods.lua", import.meta.url))],
};

/** Load without measuring, so that the JIT has compiled the request path before it is timed. */
export async function warmUp(url: string, settings: LoadSettings, load: Load = "get"): Promise<void> {
  if (settings.warmupSeconds === 0) return;
  const seconds = settings.warmupSeconds;
  await run(
    [`-t${settings.threads}`, `-c${settings.connections}`, `-d${seconds}s`, ...SCRIPTS[load], url],
    (seconds + 10) * 1000,
  );
}

export async function measure(url: string, settings: LoadSettings, load: Load = "get"): Promise<LoadResult> {
  const args = [
    `-t${settings.threads}`,
    `-c${settings.connections}`,
    `-d${settings.seconds}s`,
    "--latency",
    ...SCRIPTS[load],
    url,
  ];
  return parse(await run(args, (settings.seconds + 10) * 1000));
}

function parse(output: string): LoadResult {
  const rate = /Requests\/sec:\s+([\d.]+)/.exec(output);
  const p50 = /^\s+50%\s+([\d.]+)(us|ms|s)\s*$/m.exec(output);
  const p99 = /^\s+99%\s+([\d.]+)(us|ms|s)\s*$/m.exec(output);
  if (!rate || !p50 || !p99) throw new Error(`cannot read wrk's output:\n${output}`);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(output)?.[1] ?? 0);
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  const errorcodes = Number(/Errorcode failures: (\d+)/.exec(output)?.[1] ?? 0);
  const errors = non2xx + errorcodes
    + (socketErrors ? socketErrors.slice(1).reduce((sum, count) => sum + Number(count), 0) : 0);
  return { requestsPerSecond: Number(rate[1]), p50Ms: milliseconds(p50), p99Ms: milliseconds(p99), errors };
}

function milliseconds([, value, unit]: RegExpExecArray): number {
  return Number(value) * (unit === "us" ? 0.001 : unit === "s" ? 1000 : 1);
}
