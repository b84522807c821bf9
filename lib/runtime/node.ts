/** node:net: the TCP implementation Node uses, that Bun and Deno can be forced onto, and that node:tls builds on. */
import type { AddressInfo } from "node:net";
import { connect as netConnect, createServer, type Server, type Socket } from "node:net";
import process from "node:process";
import { runtimeCommand, spawnCommand } from "./process.ts";
import {
  ConnectTimeoutError,
  familyOf,
  type ListenAddress,
  type StartWorker,
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

/** Hands a connected socket (a TLSSocket too: it is a Socket) to its `open` callback. */
export function attach(socket: Socket, open: TcpOpen): TcpSocket {
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

/** Starts a node:net or node:tls server listening. */
export function listenWith(server: Server, options: TcpListenOptions): Promise<TcpListener> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.hostname, () => {
      server.off("error", reject);
      resolve({
        address: addressOf(server),
        // server.close stops accepting at once; its callback would also wait for every open socket to end.
        close: () => Promise.resolve(void server.close()),
      });
    });
  });
}

/**
 * Waits for a socket being connected to be ready (`connect` for node:net, `secureConnect` for node:tls, so
 * that the timeout covers the TLS handshake too), then hands it to `open` unless `refusal` finds fault with it.
 */
export function connectWith(
  socket: Socket,
  ready: "connect" | "secureConnect",
  options: TcpConnectOptions,
  open: TcpOpen,
  refusal: () => Error | undefined = () => undefined,
): Promise<TcpSocket> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new ConnectTimeoutError(options.hostname, options.port, options.timeoutMs));
    }, options.timeoutMs);
    socket.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.once(ready, () => {
      clearTimeout(timer);
      const refused = refusal();
      if (refused) {
        socket.destroy();
        return reject(refused);
      }
      socket.removeAllListeners("error");
      resolve(attach(socket, open));
    });
  });
}

export const nodeTcp: TcpImplementation = {
  name: "node:net",
  listen: (options, open) => listenWith(createServer((socket) => attach(socket, open)), options),
  connect: (options, open) =>
    connectWith(netConnect({ host: options.hostname, port: options.port }), "connect", options, open),
};

/**
 * How a Node gateway's workers share its port: node:http listens with `reusePort` from Node 22.12 (on Linux), as
 * Bun's and Deno's servers do, and a worker is then this program again; Node 20 has no such option, and its workers
 * are the cluster's, whose primary (this process) holds the port and hands each worker its connections.
 */
export async function nodeWorkers(): Promise<StartWorker> {
  const [major, minor] = process.versions.node.split(".").map(Number);
  if (process.platform === "linux" && (major > 22 || (major === 22 && minor >= 12))) {
    return (file, args, env) => spawnCommand(runtimeCommand("node", file, args), env, undefined, "pipe");
  }
  const { default: cluster } = await import("node:cluster");
  return (file, args, env) => {
    cluster.setupPrimary({ exec: file, args, stdio: ["pipe", "pipe", "pipe", "ipc"] });
    return cluster.fork(env).process;
  };
}
