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
import { parseNodeList } from "./wire/node-info.ts";
import { DISTRIBUTES, type NodeInfo } from "./wire/packet.ts";

export interface MeshMemberOptions {
  distributor: Endpoint;
  /** What this node registers as. */
  self: NodeInfo;
  log: Logger;
  notified?(nodes: NodeInfo[]): void;
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
  const register = (client: PacketClient) => client.send({ uri: DISTRIBUTES, method: "POST", key: 0, params: self });
  const client = new PacketClient({
    hostname: options.distributor.hostname,
    port: options.distributor.port,
    log,
    tcp: options.tcp,
    secret: options.secret,
    peer: { role: "distributor", name: "distributor" },
    connected(client) {
      registered = register(client);
    },
    disconnected() {
      registered = false;
      distributorInterval = undefined;
      log.warn("distributor connection lost; reconnecting", client.endpoint);
    },
    unsolicited(packet) {
      if (isPing(packet)) {
        distributorInterval = pingInterval(packet);
        client.send(pong(packet));
        return;
      }
      if (packet.uri !== DISTRIBUTES || packet.method !== "GET") return;
      const nodes = parseNodeList(packet.params);
      if (!nodes) return log.warn("invalid notification from distributor", packet.params);
      log.info("Distributor Notification", packet);
      options.notified?.(nodes);
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
