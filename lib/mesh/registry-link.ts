/**
 * A node's link to the distributor (docs/protocol.md §3): connect at once on start, register, register again
 * after every reconnect, and hand the node list to the node each time it changes. A Pilcrow distributor sends a
 * Pilcrow node the whole list once, then only changes (lib/wire/node-changes.ts), which the link applies to its
 * copy; any whole list, the book's notification included, replaces the copy. A distributor that pinged and then
 * went quiet is gone even if its socket looks open: the link reconnects.
 */
import type { Endpoint } from "../config.ts";
import type { Logger } from "../log.ts";
import type { TcpImplementation } from "../runtime/types.ts";
import { PacketClient } from "../tcp/client.ts";
import { isPing, PILCROW_PROTOCOL, pingInterval, pong } from "../wire/heartbeat.ts";
import {
  askForNodeList,
  NODE_CHANGES_URI,
  NODE_LIST_URI,
  readNodeChanges,
  readNodeList,
} from "../wire/node-changes.ts";
import { parseNodeList } from "../wire/node-info.ts";
import { DISTRIBUTES, type NodeInfo, type Packet } from "../wire/packet.ts";
import { Liveness } from "./liveness.ts";
import { NodeListReplica } from "./node-list-replica.ts";

export interface RegistryLinkOptions {
  distributor: Endpoint;
  /** What this node registers as. */
  self: NodeInfo;
  log: Logger;
  /**
   * The whole node list each time it changes, with the time the current connection to the distributor was made: a
   * list that comes soon after it may still lack nodes that are registering again (after a distributor restart).
   */
  notified?(nodes: NodeInfo[], connectedAt: number): void;
  /** The mesh secret: the distributor must prove it knows it too. */
  secret?: string;
  tcp?: TcpImplementation;
}

export interface RegistryLink {
  readonly registered: boolean;
  /**
   * Tells the distributor this node serves nothing any more (it registers again with no urls, which a
   * book distributor understands too), so that others stop sending it new requests.
   */
  leave(): void;
  close(): void;
}

export function linkToRegistry(options: RegistryLinkOptions): RegistryLink {
  const { log } = options;
  let registered = false;
  // The version that says this node answers heartbeats and takes the list by changes.
  let self: NodeInfo = { ...options.self, pilcrow: PILCROW_PROTOCOL };
  let connectedAt = 0;
  /** Whether this connection's first list has come: the one line at info that says the node is in the mesh again. */
  let heard = false;
  let leaving = false;
  const replica = new NodeListReplica();
  /** Whether the whole list was asked for and has not come yet: the copy is out of step until it does. */
  let asked = false;
  const register = (client: PacketClient) => client.send({ uri: DISTRIBUTES, method: "POST", key: 0, params: self });
  const liveness = new Liveness<PacketClient>({
    gone(client) {
      log.warn("no heartbeat from the distributor; reconnecting", client.endpoint);
      client.reset();
    },
  });
  const client = new PacketClient({
    hostname: options.distributor.hostname,
    port: options.distributor.port,
    log,
    tcp: options.tcp,
    secret: options.secret,
    peer: { role: "distributor", name: "distributor" },
    connected(client) {
      connectedAt = Date.now();
      heard = false;
      replica.forget();
      asked = false;
      registered = register(client);
    },
    disconnected() {
      registered = false;
      liveness.forget(client);
      // A node that is leaving or closing expects to lose it (the distributor may stop first): no cause for a warning.
      (leaving ? log.debug : log.warn)("distributor connection lost; reconnecting", client.endpoint);
    },
    unsolicited(packet) {
      if (isPing(packet)) {
        // A ping without an interval is a one-off question ("still there?"), not a change of interval.
        const intervalMs = pingInterval(packet);
        if (intervalMs) liveness.watch(client, intervalMs);
        client.send(pong(packet));
        return;
      }
      if (packet.uri === DISTRIBUTES && packet.method === "GET") return notification(packet);
      if (packet.uri === NODE_LIST_URI) return wholeList(packet);
      if (packet.uri === NODE_CHANGES_URI) return changes(packet);
    },
  }).open();

  /** The book's notification: the whole list, without ids. */
  function notification(packet: Packet): void {
    const nodes = parseNodeList(packet.params);
    if (!nodes) return log.warn("invalid notification from distributor", typeof packet.params);
    replica.forget();
    notify(packet, nodes);
  }

  function wholeList(packet: Packet): void {
    const read = readNodeList(packet.params);
    if ("problem" in read) return log.warn("invalid node list from distributor", read.problem);
    replica.reset(read.list);
    asked = false;
    const nodes = replica.nodes();
    notify({ ...packet, params: nodes, seq: read.list.seq }, nodes);
  }

  function changes(packet: Packet): void {
    const read = readNodeChanges(packet.params);
    if ("problem" in read) {
      log.warn("invalid node changes from distributor; asking for the whole list", read.problem);
      replica.forget();
      return askForWholeList();
    }
    // Changes that come while the whole list is on its way are in it: nothing to say about them.
    if (!replica.inStep && asked) return;
    const misfit = replica.apply(read.changes);
    if (misfit) {
      log.warn("node changes do not fit this node's list; asking for the whole list", misfit);
      return askForWholeList();
    }
    const nodes = replica.nodes();
    notify({ ...packet, params: nodes, change: packet.params }, nodes);
  }

  function askForWholeList(): void {
    if (!asked) asked = client.send(askForNodeList());
  }

  /**
   * `shown`: what came, at debug, as the book's notification shows it: with the whole list as `params` (after a
   * change, the list it made, and the change beside it). The distributor logs what each change is, once for the
   * mesh; here it is for debugging only.
   */
  function notify(shown: Packet, nodes: NodeInfo[]): void {
    log.debug("Distributor Notification", shown);
    if (!heard) log.info("distributor connected", client.endpoint, { nodes: nodes.length });
    heard = true;
    options.notified?.(nodes, connectedAt);
  }

  return {
    get registered() {
      return registered;
    },
    leave() {
      leaving = true;
      self = { ...self, urls: [] };
      register(client);
    },
    close() {
      leaving = true;
      liveness.close();
      client.close();
    },
  };
}
