/** The answering side of the mesh: accepts connections and hands every decoded packet to one handler. */
import type { Logger } from "../log.ts";
import { tcpImplementation } from "../runtime/mod.ts";
import type { ListenAddress, TcpImplementation } from "../runtime/types.ts";
import type { Packet } from "../wire/packet.ts";
import { type ConnectionOptions, PacketConnection } from "./connection.ts";

export interface PacketServerOptions extends ConnectionOptions {
  hostname: string;
  port: number;
  log: Logger;
  packet(packet: Packet, connection: PacketConnection): void;
  connected?(connection: PacketConnection): void;
  disconnected?(connection: PacketConnection, error?: Error): void;
  tcp?: TcpImplementation;
}

export interface PacketServer {
  readonly address: ListenAddress;
  readonly connections: ReadonlySet<PacketConnection>;
  /** Stops accepting new connections; open ones go on. */
  stopAccepting(): Promise<void>;
  /** Stops accepting and closes every open connection. */
  close(): Promise<void>;
}

export async function listenPackets(options: PacketServerOptions): Promise<PacketServer> {
  const { log } = options;
  const connections = new Set<PacketConnection>();
  const tcp = options.tcp ?? tcpImplementation();
  const listener = await tcp.listen(
    { hostname: options.hostname, port: options.port },
    (socket) =>
      PacketConnection.handlers(
        socket,
        {
          packet: options.packet,
          problem(problem, connection) {
            log.warn("bad frame from", connection.remoteAddress, connection.remotePort, problem);
          },
          close(connection, error) {
            connections.delete(connection);
            options.disconnected?.(connection, error);
          },
        },
        { pauseReadsWhenBlocked: true, ...options },
        (connection) => {
          connections.add(connection);
          options.connected?.(connection);
        },
      ),
  );
  return {
    address: listener.address,
    connections,
    stopAccepting: () => listener.close(),
    async close() {
      const stopped = listener.close();
      for (const connection of connections) connection.destroy();
      await stopped;
    },
  };
}
