/**
 * A node's link to the distributor (docs/protocol.md §3): connect at once on start, register, register again
 * after every reconnect, and hand each notification's node list to the node. A distributor that pinged and then
 * went quiet is gone even if its socket looks open: the link reconnects.
 */
import type { Endpoint } from "../config.ts";
import type { Logger } from "../log.ts";
import type { TcpImplementation } from "../runtime/types.ts";
import { PacketClient } from "../tcp/client.ts";
import { isPing, PILCROW_PROTOCOL, pingInterval, pong } from "../wire/heartbeat.ts";
import { parseNodeList } from "../wire/node-info.ts";
import { DISTRIBUTES, type NodeInfo } from "../wire/packet.ts";
import { Liveness } from "./liveness.ts";

export interface RegistryLinkOptions {
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
  let self: NodeInfo = { ...options.self, pilcrow: PILCROW_PROTOCOL };
  let connectedAt = 0;
  /** Whether this connection's first list has come: the one line at info that says the node is in the mesh again. */
  let heard = false;
  let leaving = false;
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
      if (packet.uri !== DISTRIBUTES || packet.method !== "GET") return;
      const nodes = parseNodeList(packet.params);
      if (!nodes) return log.warn("invalid notification from distributor", typeof packet.params);
      // Every node gets every list: the distributor logs what each one changes, once for the mesh; here the
      // whole list is for debugging only.
      log.debug("Distributor Notification", packet);
      if (!heard) log.info("distributor connected", client.endpoint, { nodes: nodes.length });
      heard = true;
      options.notified?.(nodes, connectedAt);
    },
  }).open();
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
