/**
 * The log. The default human format keeps the book's events and words (`listen {…}`, `onCreate addr port`,
 * `Distributor Notification {…}`) so chapter 9 still reads true; `json` writes one JSON object per line.
 * Formatting goes through node:util so objects print alike on every runtime.
 */
import process from "node:process";
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

export interface LoggerOptions {
  name: string;
  format?: LogFormat;
  level?: LogLevel;
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
  const write = (level: LogLevel, event: string, details: unknown[]) => {
    if (RANK[level] < threshold) return;
    const line = json ? jsonLine(level, options.name, event, details) : format(event, ...details);
    (level === "error" || level === "warn" ? process.stderr : process.stdout).write(line + "\n");
  };
  return {
    debug: (event, ...details) => write("debug", event, details),
    info: (event, ...details) => write("info", event, details),
    warn: (event, ...details) => write("warn", event, details),
    error: (event, ...details) => write("error", event, details),
  };
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
