/** The gateway process: the Hono app served by the runtime's HTTP server, registered with the distributor as `gate`. */
import type { Endpoint } from "../config.ts";
import type { Logger } from "../log.ts";
import { joinMesh } from "../mesh-member.ts";
import { httpImplementation } from "../runtime/mod.ts";
import type { HttpServeOptions, ListenAddress, TcpImplementation } from "../runtime/types.ts";
import { DEFAULT_TIMEOUT_MS, gatewayApp } from "./app.ts";
import { InstancePool } from "./instances.ts";

export interface GatewayOptions {
  hostname: string;
  port: number;
  distributor: Endpoint;
  log: Logger;
  timeoutMs?: number;
  bodyLimitBytes?: number;
  status?: boolean;
  corsOrigins?: string[];
  heartbeatMs?: number;
  /** Limits of the HTTP server (idle and request timeouts, open connections); each runtime's defaults otherwise. */
  http?: Pick<HttpServeOptions, "idleTimeoutMs" | "requestTimeoutMs" | "maxConnections">;
  /** The mesh secret, for the connections to the distributor and to every instance. */
  secret?: string;
  tcp?: TcpImplementation;
}

export interface Gateway {
  readonly address: ListenAddress;
  readonly pool: InstancePool;
  close(): Promise<void>;
}

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const { log } = options;
  const pool = new InstancePool({ log, tcp: options.tcp, heartbeatMs: options.heartbeatMs, secret: options.secret });
  const app = gatewayApp({ ...options, pool });
  const server = await (await httpImplementation()).serve({
    hostname: options.hostname,
    port: options.port,
    fetch: app.fetch,
    ...options.http,
    longestAnswerMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
  });
  log.info("listen", server.address);
  const member = joinMesh({
    distributor: options.distributor,
    self: { port: server.address.port, name: "gate", urls: [] },
    log,
    tcp: options.tcp,
    secret: options.secret,
    notified: (nodes, connectedAt) => pool.update(nodes, connectedAt),
  });
  return {
    address: server.address,
    pool,
    async close() {
      // The HTTP server first: it stops accepting and lets the requests in flight get their answers.
      await server.close();
      member.close();
      pool.close();
    },
  };
}
