/**
 * The gateway process: the Hono app served by the runtime's HTTP server, registered with the distributor as `gate`,
 * or on the NATS mesh, or both: then it routes to the instances of both meshes.
 */
import { hostname } from "node:os";
import { type Endpoint, isLoopback, UsageError } from "../config.ts";
import { DASHBOARD_PATH } from "../dashboard/routes.ts";
import { type Logger, STAYS_LOCAL } from "../log.ts";
import type { MeshCore } from "../mesh/core.ts";
import { joinMesh, type Mesh } from "../mesh/mesh.ts";
import type { NatsBus } from "../mesh/nats/bus.ts";
import { GatewayMetrics } from "../metrics/gateway-metrics.ts";
import { gatherReports } from "../metrics/gather.ts";
import { httpImplementation } from "../runtime/mod.ts";
import type { HttpServeOptions, ListenAddress, TcpImplementation } from "../runtime/types.ts";
import { DEFAULT_TIMEOUT_MS, gatewayApp } from "./app.ts";

export interface GatewayOptions {
  hostname: string;
  port: number;
  /** The distributor of the TCP mesh; at least one of it and `nats`. */
  distributor?: Endpoint;
  /** The NATS mesh. */
  nats?: NatsBus;
  log: Logger;
  timeoutMs?: number;
  bodyLimitBytes?: number;
  status?: boolean;
  /** Serve `GET /metrics`: the gateway's metrics and, gathered over the mesh, every service's. */
  metrics?: boolean;
  /** Asked of every scrape (`Authorization: Bearer`); needed off loopback, where anyone could scrape otherwise. */
  metricsToken?: string;
  /** Serve the live page at /_pilcrow/; off loopback it asks for `token` (one is made and logged if none is given). */
  dashboard?: { token?: string };
  corsOrigins?: string[];
  heartbeatMs?: number;
  /** Limits of the HTTP server (idle and request timeouts, open connections); each runtime's defaults otherwise. */
  http?: Pick<HttpServeOptions, "idleTimeoutMs" | "requestTimeoutMs" | "maxConnections">;
  /** The mesh secret, for the connections to the distributor and to every instance. */
  secret?: string;
  tcp?: TcpImplementation;
  /**
   * One of several gateway processes on this port (`--workers`, workers.ts). It shares the port with the others, and
   * with a distributor also listens on a port of its own, where it is registered: the distributor lists one node per
   * address, and would leave all the workers but one out of its list, and so out of its notifications.
   */
  worker?: boolean;
}

export interface Gateway {
  readonly address: ListenAddress;
  readonly mesh: Mesh;
  close(): Promise<void>;
}

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const { log } = options;
  // The app is made before the server listens, the mesh after: it registers the port the server got. No
  // request can come in between.
  let mesh: Mesh | undefined;
  const joined: MeshCore = { request: (route, params, request) => mesh!.request(route, params, request) };
  requireLongEnough(options.metricsToken, "PILCROW_METRICS_TOKEN");
  requireLongEnough(options.dashboard?.token, "PILCROW_DASHBOARD_TOKEN");
  if (options.metrics && !options.metricsToken && !isLoopback(options.hostname)) {
    throw new UsageError(
      `refusing to serve GET /metrics on ${options.hostname} to anyone: it shows every instance's address, pid and `
        + "memory. Set PILCROW_METRICS_TOKEN (Prometheus sends it with `authorization: { credentials: … }`), or "
        + "listen on 127.0.0.1",
    );
  }
  const metrics = options.metrics || options.dashboard ? new GatewayMetrics() : undefined;
  const token = options.dashboard && dashboardToken(options.hostname, options.dashboard.token);
  // Ends the live page's event streams on close: the HTTP server waits for every open answer.
  const closing = new AbortController();
  let address = `${options.hostname}:${options.port}`;
  const app = gatewayApp({
    ...options,
    mesh: joined,
    status: options.status ? () => mesh!.status() : undefined,
    metrics,
    knows: (route) => mesh?.knows(route) ?? false,
    scrape: options.metrics ? () => metrics!.scrape(mesh!) : undefined,
    dashboard: options.dashboard && {
      token,
      closing: closing.signal,
      source: {
        self: () => metrics!.report(),
        get address() {
          return address;
        },
        mesh: () => mesh!.status(),
        gather: () => gatherReports(mesh!),
        routes: () => metrics!.windows(),
      },
    },
  });
  const http = await httpImplementation();
  const serving = {
    hostname: options.hostname,
    fetch: app.fetch,
    ...options.http,
    longestAnswerMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
  };
  const server = await http.serve({ ...serving, port: options.port, sharedPort: options.worker });
  log.info("listen", server.address);
  const own = options.worker && options.distributor ? await http.serve({ ...serving, port: 0 }) : undefined;
  if (own) log.info("own address", own.address);
  address = `${server.address.address}:${server.address.port}`;
  if (token !== undefined && options.dashboard?.token !== token) {
    // Its token is a secret: the line stays in this node's own log, never sent to the logs service.
    log.child({ [STAYS_LOCAL]: true }).info(
      "dashboard",
      dashboardLink(server.address, token),
    );
  }
  const joinedMesh = joinMesh({
    distributor: options.distributor,
    nats: options.nats,
    self: { port: (own ?? server).address.port, name: "gate", urls: [] },
    log,
    tcp: options.tcp,
    secret: options.secret,
    heartbeatMs: options.heartbeatMs,
  });
  mesh = joinedMesh;
  return {
    address: server.address,
    mesh: joinedMesh,
    async close() {
      closing.abort();
      // The HTTP server first: it stops accepting and lets the requests in flight get their answers.
      await Promise.all([server.close(), own?.close()]);
      joinedMesh.close();
    },
  };
}

/**
 * The live page shows the mesh's layout: off loopback it asks for a token — the one given
 * (PILCROW_DASHBOARD_TOKEN), or a random one the gateway logs once, as Jupyter does.
 */
export function dashboardToken(hostname: string, given: string | undefined): string | undefined {
  if (given !== undefined && given !== "") return given;
  if (isLoopback(hostname)) return undefined;
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** The live page's address with its token, as logged for whoever started the gateway. */
export function dashboardLink(address: ListenAddress, token: string): string {
  return `${reachableUrl(address)}${DASHBOARD_PATH}?token=${token}`;
}

/**
 * A URL a browser can open for an address the gateway listens on: a wildcard (`0.0.0.0`, `::`) names no host, so
 * the machine's name stands in; an IPv6 address goes in brackets.
 */
function reachableUrl({ address, family, port }: ListenAddress): string {
  const host = address === "0.0.0.0" || address === "::" ? hostname() : family === "IPv6" ? `[${address}]` : address;
  return `http://${host}:${port}`;
}

/** A token given short enough to guess is a slip, not a choice: refused at start. */
const MIN_TOKEN_LENGTH = 16;

function requireLongEnough(token: string | undefined, variable: string): void {
  if (token === undefined || token === "" || token.length >= MIN_TOKEN_LENGTH) return;
  throw new UsageError(
    `${variable} must be at least ${MIN_TOKEN_LENGTH} characters (a random one: openssl rand -hex 16)`,
  );
}
