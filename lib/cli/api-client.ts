/**
 * The book's API client (its `test.js`, docs/protocol.md §6): the members, goods and purchases requests, in order, through the
 * gateway, each printed as the book prints it — the request's options, a space, the response body — and `done`.
 *
 *   pilcrow client [BASE_URL] [--host HOST] [--port PORT]     (default http://127.0.0.1:8000; or npm run client)
 *
 * Exits 1 when the gateway cannot be reached, or after the run when any answer had an HTTP status other than 200
 * or an `errorcode` other than 0 (one line on stderr for each); exits 2 on a usage error.
 */
import process from "node:process";
import { format, parseArgs } from "node:util";
import { parsePort, UsageError } from "../config.ts";
import { commandLineArguments, exit } from "../runtime/mod.ts";
import { helpText, parseArgsOptions, wantsHelp } from "./options.ts";
import { CLIENT_OPTIONS } from "./tables.ts";

interface Step {
  method: "GET" | "POST" | "DELETE";
  path: string;
  body?: Record<string, unknown>;
}

const SECTIONS: [string, Step[]][] = [
  ["members", [
    { method: "DELETE", path: "/members?username=test_account" },
    { method: "POST", path: "/members", body: { username: "test_account", password: "1234", passwordConfirm: "1234" } },
    { method: "GET", path: "/members?username=test_account&password=1234" },
  ]],
  ["goods", [
    {
      method: "POST",
      path: "/goods",
      body: { name: "test Goods", category: "tests", price: 1000, description: "test" },
    },
    { method: "GET", path: "/goods" },
    { method: "DELETE", path: "/goods?id=1" },
  ]],
  ["purchases", [
    { method: "POST", path: "/purchases", body: { userid: 1, goodsid: 1 } },
    { method: "GET", path: "/purchases?userid=1" },
  ]],
];

/** Well past the gateway's own limit (5 s by default): without an answer by then the gateway itself is stuck. */
const REQUEST_TIMEOUT_MS = 30_000;

interface Gateway {
  origin: string;
  host: string;
  port: number;
}

if (wantsHelp(commandLineArguments())) {
  process.stdout.write(
    helpText("client [BASE_URL] [options]   (BASE_URL default http://127.0.0.1:8000)", CLIENT_OPTIONS),
  );
  exit(0);
}
let gateway: Gateway;
try {
  gateway = parseGateway(commandLineArguments());
} catch (error) {
  if (!(error instanceof UsageError)) throw error;
  process.stderr.write(`client: ${error.message}\nclient --help lists the options.\n`);
  exit(2);
}

const headers = { "Content-Type": "application/json" };
let failures = 0;
for (const [section, steps] of SECTIONS) {
  print(`${"=".repeat(30)} ${section} ${"=".repeat(30)}`);
  for (const { method, path, body } of steps) {
    const options = { host: gateway.host, port: gateway.port, headers, method, path };
    let response: Response;
    let text: string;
    try {
      response = await fetch(gateway.origin + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      text = await response.text();
    } catch (error) {
      process.stderr.write(`api-client: cannot reach the gateway at ${gateway.origin}: ${reasonOf(error)}\n`);
      exit(1);
    }
    // node:util's format on every runtime, so the options print as the book shows them (Deno's console differs).
    print(format(options, text));
    const problem = problemWith(response.status, text);
    if (problem !== undefined) {
      failures++;
      process.stderr.write(`api-client: ${method} ${path} failed: ${problem}\n`);
    }
  }
}
print("done");
if (failures > 0) {
  process.stderr.write(`api-client: ${failures} of ${SECTIONS.flatMap(([, steps]) => steps).length} requests failed\n`);
  exit(1);
}

/** `http://host:port` as the first argument, `--host` and `--port` each override their part. */
function parseGateway(args: string[]): Gateway {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: parseArgsOptions(CLIENT_OPTIONS),
      allowPositionals: true,
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (positionals.length > 1) throw new UsageError(`unexpected arguments: ${positionals.slice(1).join(" ")}`);
  const baseUrl = positionals[0] ?? "http://127.0.0.1:8000";
  const base = URL.canParse(baseUrl) ? new URL(baseUrl) : undefined;
  if (base === undefined || (base.protocol !== "http:" && base.protocol !== "https:")) {
    throw new UsageError(`the base URL must look like http://127.0.0.1:8000, not ${baseUrl}`);
  }
  const host = (values.host as string | undefined) ?? base.hostname.replace(/^\[(.*)\]$/, "$1");
  const port = values.port === undefined
    ? Number(base.port || (base.protocol === "https:" ? 443 : 80))
    : parsePort(values.port as string, "port");
  return { origin: `${base.protocol}//${host.includes(":") ? `[${host}]` : host}:${port}`, host, port };
}

function problemWith(status: number, text: string): string | undefined {
  if (status !== 200) return `HTTP ${status}`;
  let answer;
  try {
    answer = JSON.parse(text);
  } catch {
    return "the answer is not JSON";
  }
  return answer?.errorcode === 0 ? undefined : `errorcode ${answer?.errorcode} (${answer?.errormessage})`;
}

/** Each runtime words a refused connection its own way; the cause, where there is one, is the useful part. */
function reasonOf(error: unknown): string {
  if ((error as Error).name === "TimeoutError") return `no answer within ${REQUEST_TIMEOUT_MS / 1000} s`;
  const cause = (error as { cause?: Error }).cause;
  return cause?.message ?? (error as Error).message;
}

function print(line: string): void {
  process.stdout.write(line + "\n");
}
