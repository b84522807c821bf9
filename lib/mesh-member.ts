/**
 * The node side of registration (SPEC §3): connect to the distributor at once on start, register, register
 * again after every reconnect, and hand each notification's node list to the node.
 */
import type { Endpoint } from "./config.ts";
import type { Logger } from "./log.ts";
import type { TcpImplementation } from "./runtime/types.ts";
import { PacketClient } from "./tcp/client.ts";
import { parseNodeList } from "./wire/node-info.ts";
import { DISTRIBUTES, type NodeInfo } from "./wire/packet.ts";

export interface MeshMemberOptions {
  distributor: Endpoint;
  /** What this node registers as. */
  self: NodeInfo;
  log: Logger;
  notified?(nodes: NodeInfo[]): void;
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

export function joinMesh(options: MeshMemberOptions): MeshMember {
  const { log } = options;
  let registered = false;
  let self = options.self;
  const register = (client: PacketClient) => client.send({ uri: DISTRIBUTES, method: "POST", key: 0, params: self });
  const client = new PacketClient({
    hostname: options.distributor.hostname,
    port: options.distributor.port,
    log,
    tcp: options.tcp,
    connected(client) {
      registered = register(client);
    },
    disconnected() {
      registered = false;
      log.warn("distributor connection lost; reconnecting", client.endpoint);
    },
    unsolicited(packet) {
      if (packet.uri !== DISTRIBUTES || packet.method !== "GET") return;
      const nodes = parseNodeList(packet.params);
      if (!nodes) return log.warn("invalid notification from distributor", packet.params);
      log.info("Distributor Notification", packet);
      options.notified?.(nodes);
    },
  }).open();
  return {
    get registered() {
      return registered;
    },
    leave() {
      self = { ...self, urls: [] };
      register(client);
    },
    close: () => client.close(),
  };
}
