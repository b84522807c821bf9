/**
 * The log. The default human format keeps the book's events and words (`listen {…}`, `onCreate addr port`,
 * `Distributor Notification {…}`) so chapter 9 still reads true; `json` writes one JSON object per line.
 * Formatting goes through node:util so objects print alike on every runtime.
 *
 * Most lines are caused by peers (a connection, a registration, a bad frame), so no event may write more than
 * a set number of lines per window: the rest are counted and reported in one line when the window closes.
 * Debug lines are not limited: whoever turns them on asked for everything.
 */
import process from "node:process";
import { clearTimeout, setTimeout } from "node:timers";
import { format } from "node:util";

export type LogFormat = "human" | "json";
export type LogLevel = "debug" | "info" | "warn" | "error";

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export interface Logger {
  debug(event: string, ...details: unknown[]): void;
  info(event: string, ...details: unknown[]): void;
  warn(event: string, ...details: unknown[]): void;
  error(event: string, ...details: unknown[]): void;
}

/** Where lines go: anything with a `write(text)` (process.stdout, a file stream, a test's capture). */
export interface LogStream {
  write(text: string): unknown;
}

export interface RateLimit {
  /** Lines one event (at one level) may write per window. */
  lines: number;
  windowMs: number;
}

/**
 * 50 lines a second per event: far above what a healthy mesh logs (a few lines per node that starts, stops or
 * fails), far below what fills a disk (a flood costs at most ~50 lines a second per event, each bounded).
 */
export const DEFAULT_RATE_LIMIT: RateLimit = { lines: 50, windowMs: 1000 };

/** The event of the line that reports what a rate limit held back. */
export const SUPPRESSED = "log lines suppressed";

export interface LoggerOptions {
  name: string;
  format?: LogFormat;
  level?: LogLevel;
  /** Where debug and info lines go (default stdout). */
  out?: LogStream;
  /** Where warn and error lines go (default stderr). */
  err?: LogStream;
  /** Default DEFAULT_RATE_LIMIT; `false` writes every line. */
  rateLimit?: RateLimit | false;
}

export function parseLogFormat(value: string | undefined): LogFormat {
  if (value === undefined || value === "human" || value === "json") return value ?? "human";
  throw new Error(`log format must be "human" or "json", not ${JSON.stringify(value)}`);
}

export function parseLogLevel(value: string | undefined): LogLevel {
  if (value === undefined) return "info";
  if (value in RANK) return value as LogLevel;
  throw new Error(`log level must be one of ${Object.keys(RANK).join(", ")}, not ${JSON.stringify(value)}`);
}

export function createLogger(options: LoggerOptions): Logger {
  const threshold = RANK[options.level ?? "info"];
  const json = options.format === "json";
  const out = options.out ?? process.stdout;
  const err = options.err ?? process.stderr;
  const print = (level: LogLevel, event: string, details: unknown[]) => {
    const line = json ? jsonLine(level, options.name, event, details) : format(event, ...details);
    (level === "error" || level === "warn" ? err : out).write(line + "\n");
  };
  const limit = options.rateLimit ?? DEFAULT_RATE_LIMIT;
  const limiter = limit
    ? new EventLimiter(
      limit,
      (level, event, lines) => print(level, SUPPRESSED, [{ event, lines, withinMs: limit.windowMs }]),
    )
    : undefined;
  const write = (level: LogLevel, event: string, details: unknown[]) => {
    if (RANK[level] < threshold) return;
    if (level !== "debug" && limiter && !limiter.admits(level, event)) return;
    print(level, event, details);
  };
  return {
    debug: (event, ...details) => write("debug", event, details),
    info: (event, ...details) => write("info", event, details),
    warn: (event, ...details) => write("warn", event, details),
    error: (event, ...details) => write("error", event, details),
  };
}

/**
 * Counts lines per event in fixed windows. Event names are the program's own words, never a peer's, so the
 * counts stay few; they are cleared with every window.
 */
class EventLimiter {
  #written = new Map<string, number>();
  #suppressed = new Map<string, { level: LogLevel; event: string; lines: number }>();
  #windowEnd = 0;
  /** Reports the suppressed lines when their window closes, even if the event never comes again. */
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly limit: RateLimit,
    private readonly report: (level: LogLevel, event: string, lines: number) => void,
  ) {}

  admits(level: LogLevel, event: string): boolean {
    const now = Date.now();
    if (now >= this.#windowEnd) this.#nextWindow(now);
    const key = `${level} ${event}`;
    const written = (this.#written.get(key) ?? 0) + 1;
    this.#written.set(key, written);
    if (written <= this.limit.lines) return true;
    const suppressed = this.#suppressed.get(key);
    if (suppressed) suppressed.lines++;
    else this.#suppressed.set(key, { level, event, lines: 1 });
    this.#timer ??= setTimeout(() => this.#nextWindow(Date.now()), this.#windowEnd - now).unref();
    return false;
  }

  #nextWindow(now: number): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const suppressed = [...this.#suppressed.values()];
    this.#suppressed.clear();
    this.#written.clear();
    this.#windowEnd = now + this.limit.windowMs;
    for (const { level, event, lines } of suppressed) this.report(level, event, lines);
  }
}

function jsonLine(level: LogLevel, name: string, event: string, details: unknown[]): string {
  const time = new Date().toISOString();
  try {
    return JSON.stringify({ time, level, process: name, event, details }, jsonSafe);
  } catch {
    // Too deep or cyclic (hostile input can be both): the event is still worth a line.
    return JSON.stringify({ time, level, process: name, event, details: ["[unserializable]"] });
  }
}

function jsonSafe(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message };
  if (typeof value === "bigint") return value.toString();
  return value;
}
