/**
 * The node side of registration (SPEC §3): connect to the distributor at once on start, register, register
 * again after every reconnect, and hand each notification's node list to the node.
 */
import { clearInterval, setInterval } from "node:timers";
import type { Endpoint } from "./config.ts";
import type { Logger } from "./log.ts";
import type { TcpImplementation } from "./runtime/types.ts";
import { PacketClient } from "./tcp/client.ts";
import { isPing, MISSED_BEATS, PILCROW_PROTOCOL, pingInterval, pong } from "./wire/heartbeat.ts";
import { addressOf, parseNodeList } from "./wire/node-info.ts";
import { DISTRIBUTES, type NodeInfo } from "./wire/packet.ts";

export interface MeshMemberOptions {
  distributor: Endpoint;
  /** What this node registers as. */
  self: NodeInfo;
  log: Logger;
  /**
   * Each notification's node list, with the time the current connection to the distributor was made: a list
   * that comes soon after it may still lack nodes that are registering again (after a distributor restart).
   */
  notified?(nodes: NodeInfo[], connectedAt: number): void;
  /** The mesh secret: the distributor must prove it knows it too. */
  secret?: string;
  tcp?: TcpImplementation;
}

export interface MeshMember {
  readonly registered: boolean;
  /**
   * Tells the distributor this node serves nothing any more (it registers again with no urls, which a
   * book distributor understands too), so gateways stop sending it new requests.
   */
  leave(): void;
  close(): void;
}

/** How often a node checks that its distributor, once it has pinged, still does. */
const WATCH_MS = 200;

export function joinMesh(options: MeshMemberOptions): MeshMember {
  const { log } = options;
  let registered = false;
  let self: NodeInfo = { ...options.self, pilcrow: PILCROW_PROTOCOL };
  /** The distributor's heartbeat interval, learned from its pings; a book distributor never pings. */
  let distributorInterval: number | undefined;
  let connectedAt = 0;
  /** The last list, to say what changed in the next. */
  let known: NodeInfo[] = [];
  const register = (client: PacketClient) => client.send({ uri: DISTRIBUTES, method: "POST", key: 0, params: self });
  const client = new PacketClient({
    hostname: options.distributor.hostname,
    port: options.distributor.port,
    log,
    tcp: options.tcp,
    secret: options.secret,
    peer: { role: "distributor", name: "distributor" },
    connected(client) {
      connectedAt = Date.now();
      registered = register(client);
    },
    disconnected() {
      registered = false;
      distributorInterval = undefined;
      log.warn("distributor connection lost; reconnecting", client.endpoint);
    },
    unsolicited(packet) {
      if (isPing(packet)) {
        // A ping without an interval is a one-off question ("still there?"), not a change of interval.
        distributorInterval = pingInterval(packet) ?? distributorInterval;
        client.send(pong(packet));
        return;
      }
      if (packet.uri !== DISTRIBUTES || packet.method !== "GET") return;
      const nodes = parseNodeList(packet.params);
      if (!nodes) return log.warn("invalid notification from distributor", typeof packet.params);
      // Every node gets every list: in full they would fill the logs of a large or abused mesh.
      log.info("Distributor Notification", describeChange(known, nodes));
      log.debug("Distributor Notification", packet);
      known = nodes;
      options.notified?.(nodes, connectedAt);
    },
  }).open();
  // A distributor that pinged and then went quiet is gone even if its socket looks open: reconnect.
  const watch = setInterval(() => {
    if (!distributorInterval || !client.connected) return;
    if (Date.now() - client.lastReceivedAt <= MISSED_BEATS * distributorInterval) return;
    log.warn("no heartbeat from the distributor; reconnecting", client.endpoint);
    client.reset();
  }, WATCH_MS).unref();
  return {
    get registered() {
      return registered;
    },
    leave() {
      self = { ...self, urls: [] };
      register(client);
    },
    close() {
      clearInterval(watch);
      client.close();
    },
  };
}

/** At most this many names per part of a notification's summary: its log line stays short however long the list. */
const SHOWN = 10;

/** How many nodes a list has, which names, and what changed since the last list. */
function describeChange(previous: NodeInfo[], nodes: NodeInfo[]): Record<string, unknown> {
  const before = byEntry(previous);
  const after = byEntry(nodes);
  const added = [...after.keys()].filter((entry) => !before.has(entry));
  const removed = [...before.keys()].filter((entry) => !after.has(entry));
  const changed = [...after].filter(([entry, urls]) => before.has(entry) && before.get(entry) !== urls);
  return {
    nodes: nodes.length,
    names: shown([...new Set(nodes.map((node) => node.name))]),
    ...(added.length ? { added: shown(added) } : {}),
    ...(removed.length ? { removed: shown(removed) } : {}),
    ...(changed.length ? { changed: shown(changed.map(([entry]) => entry)) } : {}),
  };
}

/** Each entry as `name@host:port`, with its urls (to see a node that now serves something else, or nothing). */
function byEntry(nodes: NodeInfo[]): Map<string, string> {
  return new Map(nodes.map((node) => [`${node.name}@${addressOf(node)}`, node.urls.join(" ")]));
}

function shown(items: string[]): string[] {
  return items.length > SHOWN ? [...items.slice(0, SHOWN), `… ${items.length - SHOWN} more`] : items;
}
