/** @hono/node-server: the HTTP server Node uses, and that Bun and Deno can be forced onto. */
import { serve } from "@hono/node-server";
import type { Server } from "node:http";
import {
  DEFAULT_HTTP_IDLE_TIMEOUT_MS,
  DEFAULT_HTTP_MAX_CONNECTIONS,
  DEFAULT_HTTP_REQUEST_TIMEOUT_MS,
  familyOf,
  type HttpImplementation,
  type HttpServeOptions,
  type HttpServer,
} from "./types.ts";

export const nodeHttp: HttpImplementation = {
  name: "@hono/node-server",
  serve(options: HttpServeOptions): Promise<HttpServer> {
    const requestTimeout = options.requestTimeoutMs ?? DEFAULT_HTTP_REQUEST_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      const server = serve(
        {
          fetch: options.fetch,
          hostname: options.hostname,
          port: options.port,
          // How often the request deadline is checked (30 s by default): a deadline is late by up to this.
          serverOptions: { connectionsCheckingInterval: Math.min(1000, requestTimeout) },
        },
        (info) => {
          resolve({
            address: { address: info.address, family: familyOf(info.address), port: info.port },
            close: () => new Promise<void>((done) => server.close(() => done())),
          });
        },
      ) as Server;
      server.keepAliveTimeout = options.idleTimeoutMs ?? DEFAULT_HTTP_IDLE_TIMEOUT_MS;
      server.requestTimeout = requestTimeout;
      server.headersTimeout = requestTimeout;
      server.maxConnections = options.maxConnections ?? DEFAULT_HTTP_MAX_CONNECTIONS;
      server.once("error", reject);
    });
  },
};
