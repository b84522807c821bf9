/**
 * The log. The default human format keeps the book's events and words (`listen {…}`, `onCreate addr port`,
 * `Distributor Notification {…}`) and prints objects as Node's console does (nested values past depth 2 as
 * `[Array]`, `[Object]`), so chapter 9 still reads true; `json` writes one JSON object per line, with every detail.
 * Objects go through node:util's inspect with every option that shapes its text set here, so a line reads the
 * same on Node, Bun and Deno.
 *
 * Most lines are caused by peers (a connection, a registration, a bad frame), so no event may write more than
 * a set number of lines per window: the rest are counted and reported in one line when the window closes.
 * Debug lines are not limited: whoever turns them on asked for everything.
 *
 * A child logger (`log.child({ requestId, traceId })`) writes through its parent, its rate limit included, and adds
 * its fields to every line: top-level keys in JSON, a `key=value` suffix in the human format (a line without fields
 * reads exactly as before). Hand-written rather than LogTape: LogTape's configure() is process-global, while several
 * nodes share a process in tests and in "pilcrow/platform", and the book's format, the escaping and the rate limit
 * would stay ours anyway (docs/logs.md).
 */
import process from "node:process";
import { clearTimeout, setTimeout } from "node:timers";
import { inspect, type InspectOptions } from "node:util";

export type LogFormat = "human" | "json";
export type LogLevel = "debug" | "info" | "warn" | "error";

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export interface Logger {
  debug(event: string, ...details: unknown[]): void;
  info(event: string, ...details: unknown[]): void;
  warn(event: string, ...details: unknown[]): void;
  error(event: string, ...details: unknown[]): void;
  /** A logger whose every line also carries these fields (and its parent's: a field given again wins). */
  child(fields: LogFields): Logger;
}

/**
 * Marks a child logger whose lines stay in this node's own log, never shipped over the mesh (`also` is not told):
 * a line that holds a secret, such as the live page's link with its token. Not a field: it is never written.
 */
export const STAYS_LOCAL: unique symbol = Symbol("stays local");

/** What a child logger adds to each of its lines: a request's ids, say. */
export type LogFields = Readonly<Record<string, unknown>> & { readonly [STAYS_LOCAL]?: true };

/** The keys of a JSON line that a field cannot take: a field named so is left out of the line. */
const RESERVED_KEYS = new Set(["time", "level", "process", "event", "details"]);

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
  /**
   * Also given every line written (at the logger's level, past its rate limit), as the JSON line the json format
   * writes, without its newline: how lines reach the log shipper (lib/logs/shipper.ts). Must not throw, nor log.
   */
  also?: (jsonLine: string) => void;
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
  const { also } = options;
  const print = (level: LogLevel, event: string, details: unknown[], fields: LogFields | undefined) => {
    const record = json || also ? jsonLine(level, options.name, event, details, fields) : undefined;
    const line = json ? record! : humanLine(event, details) + humanSuffix(fields);
    (level === "error" || level === "warn" ? err : out).write(line + "\n");
    if (also && !fields?.[STAYS_LOCAL]) also(record!);
  };
  const limit = options.rateLimit ?? DEFAULT_RATE_LIMIT;
  const limiter = limit
    ? new EventLimiter(
      limit,
      (level, event, lines) => print(level, SUPPRESSED, [{ event, lines, withinMs: limit.windowMs }], undefined),
    )
    : undefined;
  const write: WriteLine = (level, event, details, fields) => {
    if (RANK[level] < threshold) return;
    if (level !== "debug" && limiter && !limiter.admits(level, event)) return;
    print(level, event, details, fields);
  };
  // Own properties, not a class's methods: callers may copy the root logger and replace one level (tests do).
  return {
    debug: (event, ...details) => write("debug", event, details, undefined),
    info: (event, ...details) => write("info", event, details, undefined),
    warn: (event, ...details) => write("warn", event, details, undefined),
    error: (event, ...details) => write("error", event, details, undefined),
    // Not copied: a child is made per request, and fields are readonly (LogFields).
    child: (fields) => new ChildLogger(write, fields),
  };
}

type WriteLine = (level: LogLevel, event: string, details: unknown[], fields: LogFields | undefined) => void;

/**
 * A logger with fields: one small object per child (a request may make one), its methods shared on the prototype,
 * nothing formatted until a line is written.
 */
class ChildLogger implements Logger {
  constructor(private readonly write: WriteLine, private readonly fields: LogFields) {}

  debug(event: string, ...details: unknown[]): void {
    this.write("debug", event, details, this.fields);
  }

  info(event: string, ...details: unknown[]): void {
    this.write("info", event, details, this.fields);
  }

  warn(event: string, ...details: unknown[]): void {
    this.write("warn", event, details, this.fields);
  }

  error(event: string, ...details: unknown[]): void {
    this.write("error", event, details, this.fields);
  }

  child(fields: LogFields): Logger {
    return new ChildLogger(this.write, { ...this.fields, ...fields });
  }
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

/**
 * How the human format shows objects: Node's console defaults, written out (a runtime's defaults may differ, or
 * change), except for bounds on what a peer can make one line hold, and lines of 100 rather than 80 characters:
 * a notification's entry (`{ port, name, urls: [Array], pilcrow: 2, host }`) then takes one line, not seven.
 */
const HUMAN_INSPECT: Readonly<InspectOptions> = {
  depth: 2,
  colors: false,
  breakLength: 100,
  compact: 3,
  maxArrayLength: 100,
  maxStringLength: 500,
  sorted: false,
  getters: false,
  showHidden: false,
  showProxy: false,
  numericSeparator: false,
  // Details are data; an object's own inspect method would print whatever it likes, newlines included.
  customInspect: false,
};

/** Keys of one object shown at most, like maxArrayLength for arrays (inspect has no such bound for objects). */
const MAX_OBJECT_KEYS = 100;

/**
 * The event and its details separated by spaces, as console.log prints its arguments (but never reading the event
 * as a format string). One record may span several lines, as an object does in the book, but only its first line
 * starts at the margin: whatever a detail holds, it cannot end the line early or start one that looks like another
 * event.
 */
export function humanLine(event: string, details: unknown[]): string {
  return [visible(event), ...details.map(humanDetail)].join(" ");
}

function humanDetail(value: unknown): string {
  if (typeof value === "string") return visible(clipped(value));
  if (value instanceof Error) return errorText(value);
  return inspect(shown(value, 0, new Map()), HUMAN_INSPECT);
}

/** An error's name and message on its line, then the frames of its stack, indented as every runtime prints them. */
function errorText(error: Error): string {
  const frames = (error.stack ?? "").split("\n").filter((line) => /^\s+at /.test(line));
  return [
    `${visible(error.name)}: ${visible(clipped(error.message))}`,
    ...frames.map((line) => `    ${visible(line.trim())}`),
  ]
    .join("\n");
}

/**
 * A copy of the plain objects and arrays that inspect will print (down to its depth), with every string made
 * visible and every error made text: runtimes escape control characters in their own ways (Deno writes `\x1b`
 * where Node writes `\x1B`), and an error's stack would print its message raw. Other objects (a Map, a Date)
 * are inspect's to print, its escaping included. Cycles stay cycles: each object is copied once.
 */
function shown(value: unknown, depth: number, copies: Map<object, unknown>): unknown {
  if (typeof value === "string") return visible(value);
  if (value instanceof Error) return `${visible(value.name)}: ${visible(clipped(value.message))}`;
  if (typeof value !== "object" || value === null || depth > (HUMAN_INSPECT.depth as number)) return value;
  const copied = copies.get(value);
  if (copied) return copied;
  if (Array.isArray(value)) {
    // slice, not map: holes stay holes, and only what inspect shows is visited, however long the array.
    const copy = value.slice();
    copies.set(value, copy);
    const visited = Math.min(copy.length, HUMAN_INSPECT.maxArrayLength as number);
    for (let index = 0; index < visited; index++) {
      if (index in copy) copy[index] = shown(copy[index], depth + 1, copies);
    }
    return copy;
  }
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return value;
  const copy: Record<string, unknown> = Object.create(prototype);
  copies.set(value, copy);
  const keys = Object.keys(value);
  for (const key of keys.slice(0, MAX_OBJECT_KEYS)) {
    copy[visible(key)] = shown((value as Record<string, unknown>)[key], depth + 1, copies);
  }
  if (keys.length > MAX_OBJECT_KEYS) copy["…"] = `${keys.length - MAX_OBJECT_KEYS} more keys`;
  return copy;
}

/** Control characters, line and paragraph separators, and lone surrogates: what can break or hide a line. */
const UNSEEN =
  /[\u0000-\u001f\u007f-\u009f\u2028\u2029]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * Text with nothing a terminal or a line splitter would act on: C0 controls become their Unicode pictures (a
 * newline shows as ␊, an escape as ␛), the rest the replacement character.
 */
function visible(text: string): string {
  return text.replace(UNSEEN, (character) => {
    const code = character.charCodeAt(0);
    if (code < 0x20) return String.fromCharCode(0x2400 + code);
    return code === 0x7f ? "\u2421" : "\ufffd";
  });
}

/** A long string cut as inspect cuts one (maxStringLength), for strings printed outside an object. */
function clipped(text: string): string {
  const max = HUMAN_INSPECT.maxStringLength as number;
  return text.length > max ? `${text.slice(0, max)}... ${text.length - max} more characters` : text;
}

/**
 * A line's fields for the human format: ` key=value` each, strings as they are (made visible, cut short), other
 * values as inspect prints them on one line. Nothing at all without fields, so the book's lines stay as they are.
 */
function humanSuffix(fields: LogFields | undefined): string {
  if (fields === undefined) return "";
  let suffix = "";
  for (const key in fields) {
    const value = fields[key];
    if (value === undefined) continue;
    const text = typeof value === "string"
      ? visible(value.length > MAX_FIELD_CHARS ? `${value.slice(0, MAX_FIELD_CHARS)}…` : value)
      : inspect(shown(value, 0, new Map()), { ...HUMAN_INSPECT, breakLength: Infinity, compact: true });
    suffix += ` ${visible(key)}=${text}`;
  }
  return suffix;
}

/** Characters of a string field shown in the human format: ids fit whole; JSON lines carry every character. */
const MAX_FIELD_CHARS = 100;

function jsonLine(
  level: LogLevel,
  name: string,
  event: string,
  details: unknown[],
  fields: LogFields | undefined,
): string {
  const time = new Date().toISOString();
  const record: Record<string, unknown> = { time, level, process: name, event, details };
  if (fields !== undefined) {
    for (const key in fields) if (!RESERVED_KEYS.has(key)) record[key] = fields[key];
  }
  try {
    return JSON.stringify(record, jsonSafe);
  } catch {
    // Too deep or cyclic (hostile input can be both): the event is still worth a line, with its fields if they are.
    record.details = ["[unserializable]"];
    try {
      return JSON.stringify(record, jsonSafe);
    } catch {
      return JSON.stringify({ time, level, process: name, event, details: ["[unserializable]"] });
    }
  }
}

function jsonSafe(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message };
  if (typeof value === "bigint") return value.toString();
  return value;
}
