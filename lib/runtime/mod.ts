/**
 * Picks the implementation for the runtime we are on. `PILCROW_TCP=node` forces node:net and
 * `PILCROW_HTTP=node` forces @hono/node-server on Bun and Deno, so both paths can be compared and stay
 * tested; by default each runtime uses its own APIs (see README, "Runtimes"), except Deno's HTTP server.
 */
// Its declarations use Node's types (node:util, node:net…): a user's tsc loads them even with "types": [].
/// <reference types="node" preserve="true" />
import { runtimeName } from "./detect.ts";
import { nodeTlsTcp } from "./node-tls.ts";
import { nodeTcp, nodeWorkers } from "./node.ts";
import type { HttpImplementation, StartWorker, TcpImplementation, TlsCredentials, TlsRefused } from "./types.ts";

/**
 * Each runtime loads its own shim only: Bun's code is never loaded on Node or Deno, nor Deno's elsewhere.
 * node:net and node:tls (node.ts, node-tls.ts) are built into all three, and serve as the forced and TLS paths.
 */
const native: { tcp: TcpImplementation; http: HttpImplementation; startWorker: StartWorker } | undefined =
  runtimeName === "bun"
    ? await import("./bun.ts").then(({ bunTcp, bunHttp, startBunWorker }) => ({
      tcp: bunTcp,
      http: bunHttp,
      startWorker: startBunWorker,
    }))
    : runtimeName === "deno"
    ? await import("./deno.ts").then(({ denoTcp, denoHttp, startDenoWorker }) => ({
      tcp: denoTcp,
      http: denoHttp,
      startWorker: startDenoWorker,
    }))
    : undefined;

export type ImplementationChoice = "native" | "node";

function choice(variable: string, unset: ImplementationChoice = "native"): ImplementationChoice {
  const value = process.env[variable] ?? unset;
  if (value !== "native" && value !== "node") {
    throw new Error(`${variable} must be "native" or "node", not ${JSON.stringify(value)}`);
  }
  return value;
}

export function tcpImplementation(wanted: ImplementationChoice = choice("PILCROW_TCP")): TcpImplementation {
  return wanted === "native" && native ? native.tcp : nodeTcp;
}

/**
 * Mutual TLS over TCP: node:tls on every runtime. Deno.listenTls cannot ask for a client certificate, and
 * Deno.connectTls and Bun.connect always check the server's host name, where the mesh pins its CA instead
 * (see node-tls.ts). Bun.listen can verify client certificates, but was no faster than node:tls on Bun
 * (README, "Runtimes"), so one implementation serves all three.
 */
export function tlsImplementation(credentials: TlsCredentials, refused?: TlsRefused): TcpImplementation {
  return nodeTlsTcp(credentials, refused);
}

/**
 * Deno serves HTTP through node:http unless PILCROW_HTTP=native: Deno.serve has no way to close an idle
 * connection or one whose request never ends (5,000 idle sockets stayed open; stalled bodies took the gateway
 * to 3.2 GB), and Deno's node:http keeps Node's timeouts, at a measured cost (README, "Runtimes").
 * Asynchronous because @hono/node-server is loaded only by a process that serves HTTP through it: a service,
 * which serves none, never loads it.
 */
export async function httpImplementation(
  wanted: ImplementationChoice = choice("PILCROW_HTTP", runtimeName === "deno" ? "node" : "native"),
): Promise<HttpImplementation> {
  if (wanted === "native" && native) return native.http;
  return (await import("./node-http.ts")).nodeHttp;
}

/**
 * How this runtime starts the workers of a gateway serving one port from several processes (`--workers`). Throws
 * where the HTTP server in use cannot share a port: node:http on Bun (PILCROW_HTTP=node) has no `reusePort`.
 */
export async function workerStarter(): Promise<StartWorker> {
  if (!native) return nodeWorkers();
  if (runtimeName === "bun" && (await httpImplementation()) !== native.http) {
    throw new Error("--workers on Bun needs its own server: node:http on Bun (PILCROW_HTTP=node) cannot share a port");
  }
  return native.startWorker;
}

export * from "./detect.ts";
export * from "./process.ts";
export * from "./types.ts";

/**
 * Which of prom-client's default process metrics this runtime can give (lib/metrics/process-metrics.ts), as checked
 * on each: Node all of them; Bun all but the V8 heap spaces (JavaScriptCore has none: Bun reports made-up ones)
 * and the garbage collection histogram (Bun emits no `gc` performance entries); Deno none — they read /proc, which
 * a Pilcrow node on Deno may not read (its permissions name its own files): Deno then asks on the terminal and the
 * whole process waits for an answer, or without a terminal they read 0. node:process gives a Deno node the rest.
 */
export const PROCESS_METRICS: { kind: "prom-client"; leftOut: readonly string[] } | { kind: "node-process" } =
  runtimeName === "deno"
    ? { kind: "node-process" }
    : {
      kind: "prom-client",
      leftOut: runtimeName === "bun"
        ? [
          "nodejs_heap_space_size_total_bytes",
          "nodejs_heap_space_size_used_bytes",
          "nodejs_heap_space_size_available_bytes",
          "nodejs_gc_duration_seconds",
        ]
        : [],
    };
