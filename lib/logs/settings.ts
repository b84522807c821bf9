/**
 * Central logs' settings: whether this node sends its log lines to the `logs` service over the mesh
 * (`--log-to-mesh`, PILCROW_LOG_TO_MESH=1), and the logs service's own flags (where it writes, when it rotates).
 */
import { join } from "node:path";
import type { OptionTable } from "../cli/options.ts";
import { type CommonConfig, IN_MEMORY, parsePositiveInteger, UsageError } from "../config.ts";
import { environment } from "../runtime/mod.ts";

/** The route log lines are sent to. */
export const LOGS_ROUTE = "POST/logs";

/** docs/protocol.md §1: the logs service's port, as the book's chapter 12 has it. */
export const LOGS_PORT = 9040;

/**
 * Set by the logs service before it starts: its own lines are never sent to itself (a line about writing a batch
 * would make a batch, and so on). It ignores --log-to-mesh, saying so once at start.
 */
let linesStayLocal = false;

export function keepOwnLinesLocal(): void {
  linesStayLocal = true;
}

/** Whether this node was asked to send its lines (--log-to-mesh or PILCROW_LOG_TO_MESH=1). */
export function asksToShipLogs(config: CommonConfig): boolean {
  return config.values["log-to-mesh"] === true || environment("PILCROW_LOG_TO_MESH") === "1";
}

/** Whether this node sends its lines: asked to, and not the logs service itself. */
export function shipsLogs(config: CommonConfig): boolean {
  return asksToShipLogs(config) && !linesStayLocal;
}

/** Whether this process is one that keeps its lines local whatever it is asked (the logs service). */
export function keepsLinesLocal(): boolean {
  return linesStayLocal;
}

/** Where the logs service writes, and when it rotates. */
export interface LogsFileSettings {
  path: string;
  maxBytes: number;
  /** Old files kept: `.1` (the newest) to `.keep`; 0 keeps none. */
  keep: number;
}

export const DEFAULT_LOGS_MAX_BYTES = 10 * 1024 * 1024;
export const DEFAULT_LOGS_KEEP = 5;
/** More old files than this is a slip (a size given as a count), not a need. */
const MAX_LOGS_KEEP = 1000;
/** A file smaller than this would rotate at nearly every batch. */
const MIN_LOGS_MAX_BYTES = 4096;

/** The logs service's own options; the launcher takes them too, for the logs service it runs with --logs. */
export const LOGS_OPTIONS: OptionTable = [
  {
    name: "logs-file",
    value: "PATH",
    env: "PILCROW_LOGS_FILE",
    default: "<data-dir>/logs/pilcrow.jsonl",
    description: "where the logs service writes the lines it receives (JSON lines)",
  },
  {
    name: "logs-max-bytes",
    value: "N",
    env: "PILCROW_LOGS_MAX_BYTES",
    default: String(DEFAULT_LOGS_MAX_BYTES),
    description: "the size at which the logs file is rotated (at least 4096)",
  },
  {
    name: "logs-keep",
    value: "N",
    env: "PILCROW_LOGS_KEEP",
    default: String(DEFAULT_LOGS_KEEP),
    description: "rotated logs files kept: .1 (the newest) to .N; 0 keeps none",
  },
];

/**
 * `--logs-file PATH` (PILCROW_LOGS_FILE; default `<data-dir>/logs/pilcrow.jsonl`), `--logs-max-bytes N`
 * (PILCROW_LOGS_MAX_BYTES, default 10 MiB), `--logs-keep N` (PILCROW_LOGS_KEEP, default 5).
 */
export function readLogsFileSettings(values: CommonConfig["values"], dataDir: string): LogsFileSettings {
  const given = (name: string, variable: string) => (values[name] as string | undefined) ?? environment(variable);
  const file = given("logs-file", "PILCROW_LOGS_FILE");
  if (file === "") throw new UsageError("--logs-file needs a path");
  if (file === undefined && dataDir === IN_MEMORY) {
    throw new UsageError(`with --data-dir ${IN_MEMORY} the logs service needs --logs-file PATH`);
  }
  const maxBytesText = given("logs-max-bytes", "PILCROW_LOGS_MAX_BYTES");
  const maxBytes = maxBytesText === undefined
    ? DEFAULT_LOGS_MAX_BYTES
    : parsePositiveInteger(maxBytesText, "--logs-max-bytes");
  if (maxBytes < MIN_LOGS_MAX_BYTES) throw new UsageError(`--logs-max-bytes must be at least ${MIN_LOGS_MAX_BYTES}`);
  const keepText = given("logs-keep", "PILCROW_LOGS_KEEP");
  const keep = keepText === undefined ? DEFAULT_LOGS_KEEP : parseCount(keepText);
  return { path: file ?? join(dataDir, "logs", "pilcrow.jsonl"), maxBytes, keep };
}

function parseCount(text: string): number {
  if (!/^\d{1,4}$/.test(text) || Number(text) > MAX_LOGS_KEEP) {
    throw new UsageError(`--logs-keep must be a whole number from 0 to ${MAX_LOGS_KEEP}, not ${JSON.stringify(text)}`);
  }
  return Number(text);
}
