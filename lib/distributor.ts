/**
 * The Distributor (SPEC §3): the registry of nodes, keyed by connection. Every registration and every
 * disconnect of a registered node sends the whole list, in registration order, to every registered node;
 * a new connection gets the current list at once.
 */
import { clearInterval, setInterval } from "node:timers";
import type { Logger } from "./log.ts";
import type { TcpImplementation } from "./runtime/types.ts";
import type { PacketConnection } from "./tcp/connection.ts";
import { listenPackets, type PacketServer } from "./tcp/server.ts";
import { frameText } from "./wire/codec.ts";
import { DEFAULT_HEARTBEAT_MS, isPing, MISSED_BEATS, ping, pong, PONG_URI } from "./wire/heartbeat.ts";
import { parseNodeInfo } from "./wire/node-info.ts";
import { DISTRIBUTES, type NodeInfo, type Packet } from "./wire/packet.ts";

export interface DistributorOptions {
  hostname: string;
  port: number;
  log: Logger;
  maxFrameBytes?: number;
  /** Ping interval for Pilcrow nodes (default 2000 ms; 0: off); a node quiet for 3 intervals is dropped. */
  heartbeatMs?: number;
  /** The mesh secret: only nodes that prove they know it are heard, listed and told the list. */
  secret?: string;
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
  const heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;

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
    const host = node.host ?? connection.remoteAddress;
    // Two live nodes cannot listen on one address: an older registration of it is a connection that
    // outlived its node (which reconnected after a freeze or a cut): drop it now rather than list both.
    for (const [other, info] of registry) {
      if (other === connection || info.host !== host || info.port !== node.port) continue;
      log.warn("replaces a stale registration", host, node.port, other.remoteAddress, other.remotePort);
      registry.delete(other);
      other.destroy();
    }
    // Map.set on a connection already present keeps its place: re-registering does not reorder the list.
    registry.set(connection, { ...node, host });
    broadcast();
    // A first ping at once tells a Pilcrow node the interval to expect, before it ever goes quiet.
    if (node.pilcrow && heartbeatMs > 0) connection.send(ping(0, heartbeatMs));
  }

  const server = await listenPackets({
    hostname: options.hostname,
    port: options.port,
    log,
    maxFrameBytes: options.maxFrameBytes,
    secret: options.secret,
    identity: { role: "distributor", name: "distributor" },
    tcp: options.tcp,
    connected(connection) {
      log.info("onCreate", connection.remoteAddress, connection.remotePort);
      connection.sendFrame(notification());
    },
    packet(packet, connection) {
      if (packet.uri === PONG_URI) return;
      if (isPing(packet)) return void connection.send(pong(packet));
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

  const heartbeat = heartbeatMs > 0 ? setInterval(beat, heartbeatMs).unref() : undefined;

  /** Pings the quiet Pilcrow nodes; drops those quiet for too long (their socket may never close by itself). */
  function beat(): void {
    const now = Date.now();
    for (const [connection, node] of registry) {
      if (!node.pilcrow) continue;
      const quietMs = now - connection.lastReceivedAt;
      if (quietMs >= MISSED_BEATS * heartbeatMs) {
        log.warn("no heartbeat from", connection.remoteAddress, connection.remotePort, node.name, `${quietMs} ms`);
        connection.destroy();
      } else if (quietMs >= heartbeatMs) {
        connection.send(ping(0, heartbeatMs));
      }
    }
  }

  return {
    server,
    nodes: () => [...registry.values()],
    close() {
      clearInterval(heartbeat);
      return server.close();
    },
  };
}
