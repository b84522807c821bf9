/**
 * The answering side of the mesh: accepts connections and hands every decoded packet to one handler. What
 * peers can make it hold is bounded: connections (a cap), bytes of unfinished frames (a budget shared by all
 * connections) and the time a frame may take (a deadline per connection).
 */
import type { Logger } from "../log.ts";
import { tcpImplementation } from "../runtime/mod.ts";
import type { ListenAddress, TcpHandlers, TcpImplementation, TcpSocket } from "../runtime/types.ts";
import { DEFAULT_MAX_FRAME_BYTES, FrameBudget } from "../wire/codec.ts";
import type { Packet } from "../wire/packet.ts";
import { type ConnectionOptions, PacketConnection } from "./connection.ts";
import { HANDSHAKE_TIMEOUT_MS, type MeshIdentity, ServerHandshake } from "./handshake.ts";

export interface PacketServerOptions extends ConnectionOptions {
  hostname: string;
  port: number;
  log: Logger;
  /** The mesh secret: when set, a peer must complete the handshake before anything it sends is read. */
  secret?: string;
  /**
   * Who this server is in the mesh (needed with a secret): a peer's proof must name it. `port` defaults to
   * the bound port; give it when peers dial another one (a published port mapping).
   */
  identity?: Omit<MeshIdentity, "port"> & { port?: number };
  /** Open connections at most; more are closed at once (default 1024). */
  maxConnections?: number;
  /** Bytes that all connections' unfinished frames may hold together (default 32 MiB). */
  maxUnfinishedBytes?: number;
  packet(packet: Packet, connection: PacketConnection): void;
  /** A peer is connected (and, with a secret, authenticated). */
  connected?(connection: PacketConnection): void;
  /** A peer that `connected` reported has gone. */
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

/**
 * A mesh port has a few peers that matter (a distributor one per node, a service one per gateway): 1024 is
 * far above that, and keeps what idle sockets cost (a few KiB to 64 KiB each, by runtime) under ~64 MiB.
 */
export const DEFAULT_MAX_CONNECTIONS = 1024;
/**
 * Room for 32 peers to be halfway through a 1 MiB frame at the same moment, which legitimate traffic (small
 * requests, the odd big answer) never comes near; without it, 1,000 peers sending 1 MB each took 1.1 GB.
 */
export const DEFAULT_MAX_UNFINISHED_BYTES = 32 * DEFAULT_MAX_FRAME_BYTES;
/** At most one "connection limit reached" line per this many ms, with the count refused meanwhile. */
const REFUSAL_LOG_MS = 1000;

/**
 * Requests a server starts per read before it lets the event loop write their answers (ConnectionOptions
 * packetsPerTurn): far above what a gateway's connection carries in one read under load, far below a 64 KiB
 * read of small requests (1,300).
 */
const PACKETS_PER_TURN = 64;

export async function listenPackets(options: PacketServerOptions): Promise<PacketServer> {
  const { log, secret } = options;
  if (secret && !options.identity) throw new Error("a packet server with a secret needs its mesh identity");
  /** Known once listening: the bound port is part of it. */
  let identity: MeshIdentity;
  const connections = new Set<PacketConnection>();
  /** Connections still in the handshake, with what checks it and the timer that ends it. */
  const pending = new Map<PacketConnection, { handshake: ServerHandshake; timer: ReturnType<typeof setTimeout> }>();
  const tcp = options.tcp ?? tcpImplementation();
  const maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  const connectionOptions: ConnectionOptions = {
    pauseReadsWhenBlocked: true,
    packetsPerTurn: PACKETS_PER_TURN,
    ...options,
    frameBudget: new FrameBudget(options.maxUnfinishedBytes ?? DEFAULT_MAX_UNFINISHED_BYTES),
  };
  let refused = 0;
  let refusalLoggedAt = 0;

  /** Over the cap: closed before it is read (after `open` returns: some runtimes report a close at once). */
  function refuse(socket: TcpSocket): TcpHandlers {
    refused++;
    const now = Date.now();
    if (now - refusalLoggedAt >= REFUSAL_LOG_MS) {
      log.warn("connection limit reached; refusing connections", { limit: maxConnections, refused });
      refusalLoggedAt = now;
      refused = 0;
    }
    queueMicrotask(() => socket.destroy());
    return { data() {}, drain() {}, close() {} };
  }

  function opened(connection: PacketConnection): void {
    connections.add(connection);
    if (!secret) return options.connected?.(connection);
    const handshake = new ServerHandshake(secret, identity);
    const timer = setTimeout(() => {
      log.warn("handshake timed out", connection.remoteAddress, connection.remotePort);
      connection.destroy();
    }, HANDSHAKE_TIMEOUT_MS);
    pending.set(connection, { handshake, timer });
    connection.send(handshake.challenge());
  }

  function received(packet: Packet, connection: PacketConnection): void {
    const handshaking = pending.get(connection);
    if (!handshaking) return options.packet(packet, connection);
    const outcome = handshaking.handshake.check(packet);
    clearTimeout(handshaking.timer);
    pending.delete(connection);
    if ("refused" in outcome) {
      // Nothing it sent is read, and it learns nothing: not even why (the log says).
      log.warn("authentication failed", connection.remoteAddress, connection.remotePort, outcome.refused);
      return connection.destroy();
    }
    connection.send(outcome.welcome);
    options.connected?.(connection);
  }

  function closed(connection: PacketConnection, error?: Error): void {
    connections.delete(connection);
    const handshaking = pending.get(connection);
    if (handshaking) {
      clearTimeout(handshaking.timer);
      pending.delete(connection);
      return;
    }
    options.disconnected?.(connection, error);
  }

  const listener = await tcp.listen(
    { hostname: options.hostname, port: options.port },
    (socket) =>
      connections.size >= maxConnections ? refuse(socket) : PacketConnection.handlers(
        socket,
        {
          packet: received,
          problem(problem, connection) {
            log.warn("bad frame from", connection.remoteAddress, connection.remotePort, problem.kind);
            log.debug("bad frame", problem);
          },
          close: closed,
        },
        connectionOptions,
        opened,
      ),
  );
  if (options.identity) identity = { ...options.identity, port: options.identity.port ?? listener.address.port };
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
