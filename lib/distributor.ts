/**
 * The Distributor (docs/protocol.md §3): the registry of nodes, keyed by connection. Every registration and every
 * disconnect of a registered node is told to every registered node: a book node gets the whole list, in
 * registration order, as the book's distributor sends it; a Pilcrow node (of protocol version 2 and later: an
 * earlier one is sent what book nodes are) gets the whole list once, with an id per
 * entry, and from then on only the entries that changed (lib/mesh/published-list.ts), so that a change costs the
 * mesh bytes in proportion to its size, not to its square. A new connection gets the current list at once.
 *
 * Without a secret anyone may register, so no registration may disturb the nodes already listed: each is
 * bounded in size, the list never grows past what a node accepts, a claim on a listed address waits until its
 * holder is proven gone, and a burst of registrations makes one notification, not one per registration.
 */
import { clearInterval, setImmediate, setInterval, setTimeout } from "node:timers";
import type { Logger } from "./log.ts";
import { Liveness } from "./mesh/liveness.ts";
import { describeChange } from "./mesh/node-list-summary.ts";
import { PublishedList } from "./mesh/published-list.ts";
import { tcpImplementation } from "./runtime/mod.ts";
import type { TcpImplementation } from "./runtime/types.ts";
import type { PacketConnection } from "./tcp/connection.ts";
import { listenPackets, type PacketServer } from "./tcp/server.ts";
import { DEFAULT_MAX_FRAME_BYTES, frameText } from "./wire/codec.ts";
import { DEFAULT_HEARTBEAT_MS, isPing, MISSED_BEATS, ping, pong, PONG_URI } from "./wire/heartbeat.ts";
import { NODE_LIST_URI, takesListChanges } from "./wire/node-changes.ts";
import { addressOf, checkNodeInfo, entryBytes, MAX_REGISTRATION_BYTES, reachableHost } from "./wire/node-info.ts";
import { DISTRIBUTES, type NodeInfo, type Packet } from "./wire/packet.ts";

export interface DistributorOptions {
  hostname: string;
  port: number;
  log: Logger;
  maxFrameBytes?: number;
  /**
   * Ping interval for Pilcrow nodes (default 2000 ms; 0: off); a node quiet for 3 intervals is dropped. Book
   * nodes, which cannot be pinged, have their port tried as often, and are dropped after 3 refusals in a row.
   */
  heartbeatMs?: number;
  /**
   * The largest list the nodes accept (default: the 1 MiB frame limit every Pilcrow node reads with), in the form
   * Pilcrow nodes get it, with ids, which is the larger: a registration that would pass it is refused.
   */
  maxNotificationBytes?: number;
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

interface Registration {
  node: NodeInfo;
  /** Its entry's size in a notification. */
  bytes: number;
  /** Its entry's id in the lists Pilcrow nodes get: given when it is listed, kept while its connection is. */
  id: number;
  /** Port checks of a book node refused in a row. */
  refusals: number;
  checking: boolean;
}

export async function startDistributor(options: DistributorOptions): Promise<Distributor> {
  const { log } = options;
  const tcp = options.tcp ?? tcpImplementation();
  const heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  const maxNotificationBytes = options.maxNotificationBytes ?? DEFAULT_MAX_FRAME_BYTES;
  const registry = new Map<PacketConnection, Registration>();
  /** Registrations of an address another connection holds, listed once that one is gone; oldest first. */
  const claims = new Map<PacketConnection, Registration>();
  /** Holders asked whether they are still there, because a claim on their address came. */
  const probing = new Set<PacketConnection>();
  /** Pilcrow nodes are pinged when quiet, and dropped when quiet too long: their socket may never close by itself. */
  const liveness = heartbeatMs > 0
    ? new Liveness<PacketConnection>({
      ping: (connection, intervalMs) => connection.send(ping(0, intervalMs)),
      gone(connection, quietMs) {
        const name = registry.get(connection)?.node.name;
        log.warn("no heartbeat from", connection.remoteAddress, connection.remotePort, name, `${quietMs} ms`);
        connection.destroy();
      },
    })
    : undefined;

  /** The list as Pilcrow nodes know it, and the entries changed since they were told. */
  const published = new PublishedList();
  /** Ids of entries, in listing order: the registry's order is theirs. */
  let nextId = 1;
  /**
   * Pilcrow nodes that hold the published list, with the version they were last sent it whole at: they are sent
   * only changes, and the whole list again at most once per version (a node asks when a change did not fit, and
   * only a new version brings a change).
   */
  const inStep = new Map<PacketConnection, number>();

  /** The book's notification of the current list, made once per change (and sent to every new connection as it is). */
  let frame: string | undefined;
  const notification = () =>
    frame ??= frameText({
      uri: DISTRIBUTES,
      method: "GET",
      key: 0,
      params: [...registry.values()].map(({ node }) => node),
    });

  /**
   * One notification per event-loop turn at most, however many registrations the turn brought; and when lists
   * are big and change often, spaced so that no node reads more than NODE_LIST_RATE of them a second, nor the
   * distributor writes more than ALL_LISTS_RATE: a burst becomes a few lists, each the latest.
   */
  let broadcastScheduled = false;
  let nextBroadcastAt = 0;
  function changed(): void {
    frame = undefined;
    if (broadcastScheduled) return;
    broadcastScheduled = true;
    const waitMs = nextBroadcastAt - Date.now();
    if (waitMs > 0) setTimeout(broadcast, waitMs).unref();
    else setImmediate(broadcast);
  }

  function broadcast(): void {
    broadcastScheduled = false;
    const publication = published.publish();
    // Characters: near enough to bytes for pacing.
    let largest = 0;
    let total = 0;
    const count = (frame: string) => {
      largest = Math.max(largest, frame.length);
      total += frame.length;
    };
    for (const [connection, { node }] of registry) {
      if (!takesListChanges(node)) {
        connection.sendFrame(notification());
        count(notification());
      } else if (!inStep.has(connection)) {
        count(sendWholeList(connection));
      } else if (publication) {
        connection.sendFrame(publication.frame);
        count(publication.frame);
      }
    }
    // What changed is logged once, here, not in every node it reaches. The entries that did not change are the
    // same in both lists: the summary of those that did is the summary of the whole.
    const change = publication && describeChange(publication.before, publication.after);
    if (change) log.info("Distributor Notification", { ...change, nodes: registry.size });
    const spacingMs = 1000 * Math.max(largest / NODE_LIST_RATE, total / ALL_LISTS_RATE);
    nextBroadcastAt = Date.now() + spacingMs;
  }

  /** A Pilcrow node gets the list whole at the published version, which the next change fits; returns the frame. */
  function sendWholeList(connection: PacketConnection): string {
    const whole = published.wholeFrame();
    connection.sendFrame(whole);
    inStep.set(connection, published.seq);
    return whole;
  }

  function register(packet: Packet, connection: PacketConnection): void {
    const where = [connection.remoteAddress, connection.remotePort] as const;
    const checked = checkNodeInfo(packet.params);
    if ("problem" in checked) return log.warn("invalid registration from", ...where, checked.problem);
    const node = { ...checked.node, host: checked.node.host ?? connection.remoteAddress };
    const bytes = entryBytes(node);
    if (bytes > MAX_REGISTRATION_BYTES) {
      return log.warn("registration too large from", ...where, `${bytes} bytes`, `limit ${MAX_REGISTRATION_BYTES}`);
    }
    // The packet as it will be listed: unknown fields, which could be of any size, are not part of it.
    log.info("onRead", ...where, { uri: DISTRIBUTES, method: "POST", key: clip(packet.key), params: node });
    const registration: Registration = { node, bytes, id: 0, refusals: 0, checking: false };
    claims.delete(connection);
    const holder = holderOf(node, connection);
    if (!holder) return list(connection, registration);
    // Two live nodes cannot listen on one address: either the holder is a connection that outlived its node
    // (which reconnected after a freeze or a cut), or the claim is false. Only a holder proven gone loses it.
    unlist(connection);
    claims.set(connection, registration);
    log.warn("claims a listed address; waiting for its holder to go", ...where, addressOf(node));
    probe(holder);
  }

  function holderOf(node: NodeInfo, claimant: PacketConnection): PacketConnection | undefined {
    const address = addressOf(node);
    for (const [connection, { node: listed }] of registry) {
      if (connection !== claimant && addressOf(listed) === address) return connection;
    }
    return undefined;
  }

  function list(connection: PacketConnection, registration: Registration): void {
    const id = registry.get(connection)?.id ?? nextId;
    const listBytes = published.bytesWith(id, registration.bytes);
    if (listBytes > maxNotificationBytes) {
      // Listing it would make every node refuse the list; closed, it retries as nodes do, and gets in once
      // there is room.
      log.warn("node list full; registration refused", connection.remoteAddress, connection.remotePort, {
        listBytes,
        limit: maxNotificationBytes,
      });
      return connection.destroy();
    }
    if (id === nextId) nextId++;
    registration.id = id;
    // Map.set on a connection already present keeps its place: re-registering does not reorder the list.
    registry.set(connection, registration);
    published.set(id, registration.node, registration.bytes);
    // A node that registers again as one that takes no changes is sent what book nodes are.
    if (!takesListChanges(registration.node)) inStep.delete(connection);
    changed();
    if (registration.node.pilcrow && liveness) {
      // A first ping at once tells a Pilcrow node the interval to expect, before it ever goes quiet.
      connection.send(ping(0, heartbeatMs));
      liveness.watch(connection, heartbeatMs);
    }
  }

  /** Lists the newest claim on each address that no connection holds any more. */
  function settleClaims(): void {
    for (const [connection, registration] of [...claims].reverse()) {
      if (holderOf(registration.node, connection)) continue;
      claims.delete(connection);
      list(connection, registration);
    }
  }

  function unlist(connection: PacketConnection): void {
    liveness?.forget(connection);
    const registration = registry.get(connection);
    if (!registration) return;
    registry.delete(connection);
    inStep.delete(connection);
    published.delete(registration.id);
    changed();
    settleClaims();
  }

  /**
   * Asks a Pilcrow holder whether it is still there; one that sends nothing within a heartbeat is dropped. A
   * book node's connection cannot be asked: it holds its address while it is open (and its port answers).
   */
  function probe(holder: PacketConnection): void {
    if (!registry.get(holder)?.node.pilcrow || probing.has(holder)) return;
    probing.add(holder);
    const askedAt = Date.now();
    holder.send(ping(0, heartbeatMs));
    setTimeout(() => {
      probing.delete(holder);
      if (!registry.has(holder) || holder.lastReceivedAt >= askedAt) return;
      log.warn(
        "replaces a stale registration",
        holder.remoteAddress,
        holder.remotePort,
        addressOf(registry.get(holder)!.node),
      );
      unlist(holder);
      holder.destroy();
    }, heartbeatMs || DEFAULT_HEARTBEAT_MS).unref();
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
      if (packet.uri === DISTRIBUTES && packet.method === "POST") return register(packet, connection);
      // A Pilcrow node whose copy of the list went wrong asks for it whole.
      const listed = registry.get(connection)?.node;
      if (packet.uri === NODE_LIST_URI && listed && takesListChanges(listed)) {
        if (inStep.get(connection) !== published.seq) sendWholeList(connection);
        return;
      }
      log.warn(
        "ignored packet from",
        connection.remoteAddress,
        connection.remotePort,
        clip(packet.uri),
        clip(packet.method),
      );
    },
    disconnected(connection, error) {
      // As the book prints it. How it closed is for debugging: a node that leaves with a notification unread
      // resets its connection ("read ECONNRESET", "os error 104"), which is routine, not a failure.
      log.info("onClose", connection.remoteAddress, connection.remotePort);
      if (error) log.debug("onClose cause", connection.remoteAddress, connection.remotePort, error.message);
      claims.delete(connection);
      unlist(connection);
    },
  });

  const portChecks = heartbeatMs > 0 ? setInterval(checkBookPorts, heartbeatMs).unref() : undefined;

  function checkBookPorts(): void {
    for (const [connection, registration] of registry) {
      if (!registration.node.pilcrow) checkPort(connection, registration);
    }
  }

  /**
   * A book node knows no ping, but it listens on the port it registered: a port that refuses connections is a
   * node that is gone. Only a node reached at the address it connected from is tried: a host it states itself
   * may be reachable for other nodes only (behind NAT, on another network), so refusals from here prove nothing.
   */
  function checkPort(connection: PacketConnection, registration: Registration): void {
    const { node } = registration;
    if (registration.checking || reachableHost(node.host!) !== reachableHost(connection.remoteAddress)) return;
    registration.checking = true;
    tcp.connect({ hostname: reachableHost(node.host!), port: node.port, timeoutMs: heartbeatMs }, ignoreData).then(
      (socket) => {
        socket.end();
        registration.refusals = 0;
      },
      (error) => {
        if (++registration.refusals < MISSED_BEATS || registry.get(connection) !== registration) return;
        log.warn(
          "port refused; dropping",
          connection.remoteAddress,
          connection.remotePort,
          node.name,
          addressOf(node),
          (error as Error).message,
        );
        connection.destroy();
      },
    ).finally(() => registration.checking = false);
  }

  return {
    server,
    nodes: () => [...registry.values()].map(({ node }) => node),
    close() {
      clearInterval(portChecks);
      liveness?.close();
      return server.close();
    },
  };
}

/**
 * Bytes of lists a second. Reading a 1 MiB list costs a node 1–4 ms (measured on every runtime), so 16 MiB a
 * second costs it at most a few percent; a list of normal size (100 bytes a node) is never held back.
 */
const NODE_LIST_RATE = 16 * 1024 * 1024;
const ALL_LISTS_RATE = 64 * 1024 * 1024;

const ignoreData = () => ({ data() {}, drain() {}, close() {} });

/** A peer's value, short enough for a log line: a number, or the start of a string; nothing else. */
function clip(value: unknown): unknown {
  if (typeof value === "string") return value.length > 100 ? `${value.slice(0, 100)}…` : value;
  return typeof value === "number" ? value : undefined;
}
