/**
 * Moleculer's TCP transporter (peer to peer, as Pilcrow's mesh is), held to 127.0.0.1. Its reader listens on every
 * interface and has no option to say otherwise, so the benchmark's Moleculer processes give it a listen that binds
 * the loopback address; everything else is Moleculer's own code. No UDP discovery: peers are given by address.
 */
import { createRequire } from "node:module";
import { type AddressInfo, createServer, type Socket } from "node:net";

interface TcpReader {
  opts: { port: number | null };
  server: unknown;
  connected: boolean;
  onTcpClientConnected(socket: Socket): void;
  listen(): Promise<number>;
}

const require = createRequire(import.meta.url);
// By absolute path: the package does not export its internals, and this must be the very module it loads.
const readerFile = require.resolve("moleculer").replace(/index\.js$/, "src/transporters/tcp/tcp-reader.js");
const { prototype } = require(readerFile) as { prototype: TcpReader };

prototype.listen = function(this: TcpReader): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer((socket) => this.onTcpClientConnected(socket));
    server.once("error", reject);
    server.listen({ host: "127.0.0.1", port: this.opts.port ?? 0, exclusive: true }, () => {
      const { port } = server.address() as AddressInfo;
      this.opts.port = port;
      this.server = server;
      this.connected = true;
      resolve(port);
    });
  });
};

/** Transporter options: listen on a free loopback port and reach the peers at `127.0.0.1:PORT/NODE_ID`. */
export function loopbackTransporter(peers: string[] = []) {
  return { type: "TCP", options: { udpDiscovery: false, port: 0, urls: peers } };
}
