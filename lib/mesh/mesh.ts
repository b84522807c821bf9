/**
 * A node's place in the mesh: registered with the distributor, connected to the instances it calls, and the
 * one way to send them requests (MeshCore). The gateway and services calling services both join it this way.
 */
import type { Endpoint } from "../config.ts";
import type { Logger } from "../log.ts";
import type { TcpImplementation } from "../runtime/types.ts";
import type { NodeInfo } from "../wire/packet.ts";
import type { MeshCore } from "./core.ts";
import { InstancePool, type PoolStatus } from "./pool.ts";
import { linkToRegistry } from "./registry-link.ts";
import { sendRequest } from "./request.ts";

export interface MeshOptions {
  distributor: Endpoint;
  /** What this node registers as: its port, name and the routes it serves (none for a gateway). */
  self: NodeInfo;
  log: Logger;
  /** The mesh secret: the distributor and every instance must prove they know it. */
  secret?: string;
  tcp?: TcpImplementation;
  /** Ping interval for quiet instances (default 2000 ms; 0: off). */
  heartbeatMs?: number;
  /** Which listed nodes to connect to (default: all): a service connects only to the instances it calls. */
  connectTo?: (node: NodeInfo) => boolean;
}

export type MeshStatus = PoolStatus;

export type Mesh = MeshCore & {
  /** Registered with the distributor on the current connection. */
  readonly registered: boolean;
  /** Tells the distributor this node serves nothing any more, so others stop sending it new requests. */
  leave(): void;
  close(): void;
  /** Requests in flight (zero whenever the node is idle) and each instance connected to. */
  status(): MeshStatus;
};

export function joinMesh(options: MeshOptions): Mesh {
  const { log, connectTo } = options;
  const pool = new InstancePool({ log, tcp: options.tcp, heartbeatMs: options.heartbeatMs, secret: options.secret });
  const registry = linkToRegistry({
    distributor: options.distributor,
    self: options.self,
    log,
    tcp: options.tcp,
    secret: options.secret,
    notified: (nodes, connectedAt) => pool.update(connectTo ? nodes.filter(connectTo) : nodes, connectedAt),
  });
  // Keys count up from 0 per process, across all routes (docs/protocol.md §6: the API client's answers show 0 to 7).
  let nextKey = 0;
  return {
    request: (route, params, requestOptions) => sendRequest(pool, log, nextKey++, route, params, requestOptions),
    get registered() {
      return registry.registered;
    },
    leave: () => registry.leave(),
    close() {
      registry.close();
      pool.close();
    },
    status: () => pool.status(),
  };
}
