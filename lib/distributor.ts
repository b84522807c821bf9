/**
 * The Distributor (SPEC §3): the registry of nodes, keyed by connection. Every registration and every
 * disconnect of a registered node sends the whole list, in registration order, to every registered node;
 * a new connection gets the current list at once.
 */
import type { Logger } from "./log.ts";
import type { TcpImplementation } from "./runtime/types.ts";
import type { PacketConnection } from "./tcp/connection.ts";
import { listenPackets, type PacketServer } from "./tcp/server.ts";
import { frameText } from "./wire/codec.ts";
import { parseNodeInfo } from "./wire/node-info.ts";
import { DISTRIBUTES, type NodeInfo, type Packet } from "./wire/packet.ts";

export interface DistributorOptions {
  hostname: string;
  port: number;
  log: Logger;
  maxFrameBytes?: number;
  tcp?: TcpImplementation;
}

export interface Distributor {
  readonly server: PacketServer;
  /** The registered nodes, in registration order. */
  nodes(): NodeInfo[];
  close(): Promise<void>;
}

export async function startDistributor(options: DistributorOptions): Promise<Distributor> {
  const { log } = options;
  const registry = new Map<PacketConnection, NodeInfo>();

  const notification = () => frameText({ uri: DISTRIBUTES, method: "GET", key: 0, params: [...registry.values()] });

  function broadcast(): void {
    const frame = notification();
    for (const connection of registry.keys()) connection.sendFrame(frame);
  }

  function register(packet: Packet, connection: PacketConnection): void {
    const node = parseNodeInfo(packet.params);
    if (!node) {
      log.warn("invalid registration from", connection.remoteAddress, connection.remotePort, packet.params);
      return;
    }
    // Map.set on a connection already present keeps its place: re-registering does not reorder the list.
    registry.set(connection, { ...node, host: node.host ?? connection.remoteAddress });
    broadcast();
  }

  const server = await listenPackets({
    hostname: options.hostname,
    port: options.port,
    log,
    maxFrameBytes: options.maxFrameBytes,
    tcp: options.tcp,
    connected(connection) {
      log.info("onCreate", connection.remoteAddress, connection.remotePort);
      connection.sendFrame(notification());
    },
    packet(packet, connection) {
      if (packet.uri === DISTRIBUTES && packet.method === "POST") {
        log.info("onRead", connection.remoteAddress, connection.remotePort, packet);
        register(packet, connection);
      } else {
        log.warn("ignored packet from", connection.remoteAddress, connection.remotePort, packet.uri, packet.method);
      }
    },
    disconnected(connection, error) {
      log.info("onClose", connection.remoteAddress, connection.remotePort, ...(error ? [error.message] : []));
      if (registry.delete(connection)) broadcast();
    },
  });

  return {
    server,
    nodes: () => [...registry.values()],
    close: () => server.close(),
  };
}
