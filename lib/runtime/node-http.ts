/** @hono/node-server: the HTTP server Node uses, and that Bun and Deno can be forced onto. */
import { createAdaptorServer } from "@hono/node-server";
import type { Server } from "node:http";
import { type AddressInfo, type ListenOptions, Server as NetServer } from "node:net";
import {
  DEFAULT_HTTP_IDLE_TIMEOUT_MS,
  DEFAULT_HTTP_MAX_CONNECTIONS,
  DEFAULT_HTTP_REQUEST_TIMEOUT_MS,
  familyOf,
  type HttpImplementation,
  type HttpServeOptions,
  type HttpServer,
} from "./types.ts";
import { type ClosingAnswers, closingAnswers, DRAIN_GRACE_MS } from "./workers-drain.ts";

export const nodeHttp: HttpImplementation = {
  name: "@hono/node-server",
  serve(options: HttpServeOptions): Promise<HttpServer> {
    const requestTimeout = options.requestTimeoutMs ?? DEFAULT_HTTP_REQUEST_TIMEOUT_MS;
    const answers = options.sharedPort ? closingAnswers(options.fetch) : undefined;
    const server = createAdaptorServer({
      fetch: answers?.fetch ?? options.fetch,
      hostname: options.hostname,
      // How often the request deadline is checked (30 s by default): a deadline is late by up to this.
      serverOptions: { connectionsCheckingInterval: Math.min(1000, requestTimeout) },
    }) as Server;
    server.keepAliveTimeout = options.idleTimeoutMs ?? DEFAULT_HTTP_IDLE_TIMEOUT_MS;
    server.requestTimeout = requestTimeout;
    server.headersTimeout = requestTimeout;
    server.maxConnections = options.maxConnections ?? DEFAULT_HTTP_MAX_CONNECTIONS;
    // A shared port: SO_REUSEPORT where node:http has it (Node 22.12+, Deno), or else, in a cluster worker (Node 20),
    // through the primary. A port of its own is `exclusive`: in a cluster worker it would be the primary's otherwise.
    const listenOptions: ListenOptions & { reusePort?: boolean } = {
      port: options.port,
      host: options.hostname,
      exclusive: !options.sharedPort,
      ...(options.sharedPort && { reusePort: true }),
    };
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(listenOptions, () => {
        const info = server.address() as AddressInfo;
        resolve({
          address: { address: info.address, family: familyOf(info.address), port: info.port },
          close: answers
            ? () => drain(server, answers)
            : () => new Promise<void>((done) => server.close(() => done())),
        });
      });
    });
  },
};

/**
 * Stops accepting through net's close, not http's: http's also destroys every idle keep-alive connection at once,
 * crossing the request a client may be sending on one. Each gets its next answer with `Connection: close` instead,
 * and those still idle after DRAIN_GRACE_MS are closed (workers-drain.ts). Resolves once every connection has ended.
 */
function drain(server: Server, answers: ClosingAnswers): Promise<void> {
  return new Promise((done) => {
    NetServer.prototype.close.call(server, () => done());
    answers.drain();
    setTimeout(() => server.closeIdleConnections(), DRAIN_GRACE_MS).unref();
  });
}
