/**
 * The command-line contract shared by every entry point: the port as the first plain argument (as in the
 * book) or `--port`, `--host`, `--distributor HOST:PORT` (or PILCROW_DISTRIBUTOR), `--log human|json`
 * (or PILCROW_LOG), `--log-level` (or PILCROW_LOG_LEVEL), `--heartbeat MS`, `--secret-file PATH` (or
 * PILCROW_SECRET) and `--tls-cert PATH --tls-key PATH --tls-ca PATH` (or PILCROW_TLS_CERT, _KEY, _CA).
 * Parsed with node:util parseArgs, from the tables in lib/cli/tables.ts (which also make `--help`).
 */
import { createPrivateKey, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { type OptionTable, parseArgsOptions } from "./cli/options.ts";
import { COMMON_OPTIONS } from "./cli/tables.ts";
import { createLogger, type LogFormat, type LogLevel, parseLogFormat, parseLogLevel } from "./log.ts";
import { type NatsSettings, readNatsSettings } from "./mesh/nats/settings.ts";
import {
  commandLineArguments,
  environment,
  type TcpImplementation,
  tcpImplementation,
  type TlsCredentials,
  tlsImplementation,
} from "./runtime/mod.ts";

export const DEFAULT_HOST = "127.0.0.1";
export const DEFAULT_DISTRIBUTOR = "127.0.0.1:9000";

export interface Endpoint {
  hostname: string;
  port: number;
}

export interface CommonConfig {
  port: number;
  host: string;
  distributor: Endpoint;
  /**
   * The NATS servers of `--mesh` (or PILCROW_MESH), with their credentials and TLS (`--nats-*`, PILCROW_NATS_*):
   * set, the node joins the mesh over NATS. Its secrets print as `[secret]`.
   */
  mesh?: NatsSettings;
  logFormat: LogFormat;
  logLevel: LogLevel;
  /** Heartbeat interval of a pinging side (distributor, gateway), `--heartbeat MS` or PILCROW_HEARTBEAT_MS; 0: off. */
  heartbeatMs?: number;
  /** The mesh secret, from `--secret-file PATH` or PILCROW_SECRET; never logged. */
  secret?: string;
  /** This node's certificate and key and the mesh CA, read at start-up; set, every mesh link is mutual TLS. */
  tls?: TlsCredentials;
  /** How this process makes and takes mesh connections: mutual TLS when `tls` is set, plain TCP otherwise. */
  tcp: TcpImplementation;
  /** Every parsed flag, including those the entry point declared for itself. */
  values: Record<string, string | boolean | undefined>;
}

export class UsageError extends Error {
  override name = "UsageError";
}

/** `processName` names the log lines of the TLS layer (peers it refused). */
export function parseCommandLine(
  defaultPort: number,
  extraOptions: OptionTable = [],
  args: string[] = commandLineArguments(),
  processName = "pilcrow",
): CommonConfig {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: parseArgsOptions([...COMMON_OPTIONS, ...extraOptions]),
      allowPositionals: true,
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (positionals.length > 1) throw new UsageError(`unexpected arguments: ${positionals.slice(1).join(" ")}`);
  const portText = (values.port as string | undefined) ?? positionals[0];
  try {
    const logFormat = parseLogFormat((values.log as string | undefined) ?? environment("PILCROW_LOG"));
    const logLevel = parseLogLevel((values["log-level"] as string | undefined) ?? environment("PILCROW_LOG_LEVEL"));
    const tls = readTls(values);
    const log = createLogger({ name: processName, format: logFormat, level: logLevel });
    return {
      port: portText === undefined ? defaultPort : parsePort(portText, "port"),
      host: (values.host as string | undefined) ?? DEFAULT_HOST,
      distributor: parseEndpoint(
        (values.distributor as string | undefined) ?? environment("PILCROW_DISTRIBUTOR") ?? DEFAULT_DISTRIBUTOR,
      ),
      mesh: readNatsSettings(values, environment),
      logFormat,
      logLevel,
      secret: readSecret(values["secret-file"] as string | undefined),
      tls,
      tcp: tls
        ? tlsImplementation(tls, (peer, reason) => log.warn("TLS peer refused", peer.address, peer.port, reason))
        : tcpImplementation(),
      heartbeatMs: optionalDuration(
        (values.heartbeat as string | undefined) ?? environment("PILCROW_HEARTBEAT_MS"),
        "heartbeat",
      ),
      values: values as CommonConfig["values"],
    };
  } catch (error) {
    throw error instanceof UsageError ? error : new UsageError((error as Error).message);
  }
}

/** 0 is allowed: the system picks a free port, which the `listen` line then reports. */
export function parsePort(text: string, what: string): number {
  const port = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(port >= 0 && port <= 65535)) throw new UsageError(`${what} must be a number from 0 to 65535, not ${text}`);
  return port;
}

/** `HOST:PORT`, `[IPv6]:PORT`, or a bare `PORT` on 127.0.0.1. */
export function parseEndpoint(text: string): Endpoint {
  const bracketed = /^\[([^\]]+)\]:(\d+)$/.exec(text);
  if (bracketed) return { hostname: bracketed[1], port: parsePort(bracketed[2], "distributor port") };
  const colon = text.lastIndexOf(":");
  if (colon === -1) return { hostname: DEFAULT_HOST, port: parsePort(text, "distributor port") };
  const hostname = text.slice(0, colon);
  if (hostname === "" || hostname.includes(":")) throw new UsageError(`expected HOST:PORT, not ${text}`);
  return { hostname, port: parsePort(text.slice(colon + 1), "distributor port") };
}

export function parsePositiveInteger(text: string, what: string): number {
  const value = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(value > 0 && Number.isSafeInteger(value))) {
    throw new UsageError(`${what} must be a positive whole number, not ${text}`);
  }
  return value;
}

/** Where a service keeps its SQLite file when neither `--data-dir` nor PILCROW_DATA_DIR says. */
export const DEFAULT_DATA_DIR = "./data";

/** The data directory's stand-in for a private database in memory (tests only: lost when the process stops). */
export const IN_MEMORY = ":memory:";

/**
 * A data directory as given: any path the system can name, or IN_MEMORY. Refused: nothing at all (an unset
 * variable expanded by a shell, most likely, which would otherwise mean the current directory), a NUL (no path
 * can hold one; the file calls would fail later, or cut it), other control characters (a pasted line break),
 * and a leading colon other than `:memory:` (a mistyped `:memory:` would make a directory of that name).
 */
export function parseDataDir(text: string): string {
  const refuse = (why: string) => new UsageError(`--data-dir (or PILCROW_DATA_DIR) ${why}`);
  if (text.trim() === "") throw refuse("must name a directory, or :memory:, not an empty string");
  // deno-lint-ignore no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(text)) throw refuse(`must not hold control characters: ${JSON.stringify(text)}`);
  if (text.startsWith(":") && text !== IN_MEMORY) {
    throw refuse(`must be a directory or exactly ${IN_MEMORY}, not ${JSON.stringify(text)}`);
  }
  return text;
}

/** The least and the most a duration may be, in milliseconds (both allowed). */
export interface DurationBounds {
  min: number;
  max: number;
}

/**
 * A time in milliseconds, a whole number. Without `bounds` 0 is allowed (for a drain: do not wait); with them a
 * value outside is refused, its message naming the option (`what`) and the range.
 */
export function parseDuration(text: string, what: string, bounds?: DurationBounds): number {
  const value = /^\d+$/.test(text) ? Number(text) : NaN;
  const range = bounds ? ` from ${bounds.min} to ${bounds.max}` : "";
  if (!Number.isSafeInteger(value) || (bounds && (value < bounds.min || value > bounds.max))) {
    throw new UsageError(`${what} must be a whole number of milliseconds${range}, not ${JSON.stringify(text)}`);
  }
  return value;
}

function optionalDuration(text: string | undefined, what: string): number | undefined {
  return text === undefined ? undefined : parseDuration(text, what);
}

export const MIN_SECRET_LENGTH = 16;

function readSecret(file: string | undefined): string | undefined {
  let secret: string | undefined;
  if (file !== undefined) {
    try {
      secret = readFileSync(file, "utf8").trim();
    } catch (error) {
      throw new UsageError(`cannot read the secret file ${file}: ${(error as Error).message}`);
    }
  } else {
    secret = environment("PILCROW_SECRET");
  }
  if (secret === undefined || secret === "") return undefined;
  if (secret.length < MIN_SECRET_LENGTH) {
    throw new UsageError(`the mesh secret must be at least ${MIN_SECRET_LENGTH} characters long`);
  }
  return secret;
}

type TlsFile = "cert" | "key" | "ca";

/** The three TLS files, from flags or PILCROW_TLS_*: all three or none. */
function readTls(values: Record<string, unknown>): TlsCredentials | undefined {
  const path = (which: TlsFile) =>
    (values[`tls-${which}`] as string | undefined) ?? environment(`PILCROW_TLS_${which.toUpperCase()}`);
  const paths = { cert: path("cert"), key: path("key"), ca: path("ca") };
  const given = Object.values(paths).filter((file) => file !== undefined && file !== "").length;
  if (given === 0) return undefined;
  if (given < 3) {
    throw new UsageError("TLS needs all three of --tls-cert, --tls-key and --tls-ca (or PILCROW_TLS_CERT, _KEY, _CA)");
  }
  const pem = (which: TlsFile) => {
    try {
      return readFileSync(paths[which]!, "utf8");
    } catch (error) {
      throw new UsageError(`cannot read the TLS ${which} file ${paths[which]}: ${(error as Error).message}`);
    }
  };
  const credentials = { cert: pem("cert"), key: pem("key"), ca: pem("ca") };
  checkTls(credentials, paths as Record<TlsFile, string>);
  return credentials;
}

/**
 * Finds at start-up what would otherwise show only as refused connections. The parsers' messages are not
 * passed on: they could quote the key.
 */
function checkTls(credentials: TlsCredentials, paths: Record<TlsFile, string>): void {
  const parsed = <T>(which: TlsFile, what: string, parse: () => T): T => {
    try {
      return parse();
    } catch {
      throw new UsageError(`the TLS ${which} file ${paths[which]} does not hold ${what} in PEM form`);
    }
  };
  const certificate = parsed("cert", "a certificate", () => new X509Certificate(credentials.cert));
  const key = parsed("key", "a private key", () => createPrivateKey(credentials.key));
  parsed("ca", "a certificate", () => new X509Certificate(credentials.ca));
  if (!certificate.checkPrivateKey(key)) {
    throw new UsageError(`the TLS key file ${paths.key} is not the key of the certificate in ${paths.cert}`);
  }
  const now = Date.now();
  if (now < Date.parse(certificate.validFrom) || now > Date.parse(certificate.validTo)) {
    throw new UsageError(
      `the TLS certificate in ${paths.cert} is valid only from ${certificate.validFrom} to ${certificate.validTo}`,
    );
  }
}

export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^(::ffff:)?127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * A mesh port (the distributor's, a service's) open beyond this machine must be guarded: without a secret
 * or mutual TLS anyone who reaches it could register as any service, or call one directly.
 */
export function requireGuardOffLoopback(config: CommonConfig): void {
  if (isLoopback(config.host) || config.secret || config.tls) return;
  throw new UsageError(
    `refusing to listen on ${config.host} without a mesh secret or TLS: anyone who can reach it could join the `
      + "mesh. Give every process --tls-cert, --tls-key and --tls-ca (mutual TLS, which also encrypts), or "
      + "PILCROW_SECRET (or --secret-file PATH), or listen on 127.0.0.1",
  );
}
