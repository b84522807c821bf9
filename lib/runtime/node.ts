/** node:net and @hono/node-server: the implementation Node uses, and that Bun and Deno can be forced onto. */
import { serve } from "@hono/node-server";
import type { AddressInfo } from "node:net";
import { connect as netConnect, createServer, type Server, type Socket } from "node:net";
import {
  ConnectTimeoutError,
  familyOf,
  type HttpImplementation,
  type HttpServeOptions,
  type HttpServer,
  type ListenAddress,
  type TcpConnectOptions,
  type TcpImplementation,
  type TcpListener,
  type TcpListenOptions,
  type TcpOpen,
  type TcpSocket,
} from "./types.ts";

function wrap(socket: Socket): TcpSocket {
  return {
    get remoteAddress() {
      return socket.remoteAddress ?? "";
    },
    get remotePort() {
      return socket.remotePort ?? 0;
    },
    get bufferedBytes() {
      return socket.writableLength;
    },
    write: (bytes) => socket.write(bytes),
    pause: () => void socket.pause(),
    resume: () => void socket.resume(),
    end: () => void socket.end(),
    destroy: () => void socket.destroy(),
  };
}

function attach(socket: Socket, open: TcpOpen): TcpSocket {
  socket.setNoDelay(true);
  const wrapped = wrap(socket);
  const handlers = open(wrapped);
  let failure: Error | undefined;
  socket.on("data", (chunk: Buffer) => handlers.data(chunk));
  socket.on("drain", () => handlers.drain());
  socket.on("error", (error) => failure = error);
  socket.on("close", () => handlers.close(failure));
  return wrapped;
}

function addressOf(server: Server): ListenAddress {
  const info = server.address() as AddressInfo;
  return { address: info.address, family: familyOf(info.address), port: info.port };
}

export const nodeTcp: TcpImplementation = {
  name: "node:net",
  listen(options: TcpListenOptions, open: TcpOpen): Promise<TcpListener> {
    const server = createServer((socket) => attach(socket, open));
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port, options.hostname, () => {
        server.off("error", reject);
        const address = addressOf(server);
        resolve({
          address,
          // server.close stops accepting at once; its callback would also wait for every open socket to end.
          close: () => Promise.resolve(void server.close()),
        });
      });
    });
  },
  connect(options: TcpConnectOptions, open: TcpOpen): Promise<TcpSocket> {
    return new Promise((resolve, reject) => {
      const socket = netConnect({ host: options.hostname, port: options.port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new ConnectTimeoutError(options.hostname, options.port, options.timeoutMs));
      }, options.timeoutMs);
      socket.once("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
      socket.once("connect", () => {
        clearTimeout(timer);
        socket.removeAllListeners("error");
        resolve(attach(socket, open));
      });
    });
  },
};

export const nodeHttp: HttpImplementation = {
  name: "@hono/node-server",
  serve(options: HttpServeOptions): Promise<HttpServer> {
    return new Promise((resolve, reject) => {
      const server = serve(
        { fetch: options.fetch, hostname: options.hostname, port: options.port },
        (info) => {
          resolve({
            address: { address: info.address, family: familyOf(info.address), port: info.port },
            close: () => new Promise<void>((done) => server.close(() => done())),
          });
        },
      );
      server.once("error", reject);
    });
  },
};
