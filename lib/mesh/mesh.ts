/**
 * A node's place in the mesh: registered with the distributor, or announced on NATS, or both (a gateway while a
 * team moves over); connected to the instances it calls; and the one way to send them requests (MeshCore). The
 * gateway and services calling services both join it this way.
 */
import type { Endpoint } from "../config.ts";
import type { Logger } from "../log.ts";
import type { TcpImplementation } from "../runtime/types.ts";
import { PILCROW_PROTOCOL } from "../wire/heartbeat.ts";
import type { NodeInfo } from "../wire/packet.ts";
import type { MeshCore } from "./core.ts";
import type { NatsBus } from "./nats/bus.ts";
import { joinPresence, type Presence } from "./nats/presence.ts";
import { InstancePool, type InstanceReply, type PoolStatus } from "./pool.ts";
import { linkToRegistry, type RegistryLink } from "./registry-link.ts";
import { sendRequest } from "./request.ts";

export interface MeshOptions {
  /** The distributor of the TCP mesh; at least one of it and `nats`. */
  distributor?: Endpoint;
  /** The NATS mesh; with `self.subject`, this node is an instance that others reach there. */
  nats?: NatsBus;
  /** What this node registers as: its port (or NATS subject), name and the routes it serves (none for a gateway). */
  self: NodeInfo;
  log: Logger;
  /** The mesh secret: the distributor and every instance must prove they know it (TCP mesh). */
  secret?: string;
  tcp?: TcpImplementation;
  /** Ping interval for quiet instances (default 2000 ms; 0: off). */
  heartbeatMs?: number;
  /** Which listed nodes to connect to (default: all): a service connects only to the instances it calls. */
  connectTo?: (node: NodeInfo) => boolean;
  /**
   * Whether this node sends requests (default true): one that never does (a service that calls nobody) keeps no
   * table of instances on NATS, and asks nobody for one.
   */
  callsOthers?: boolean;
}

export type MeshStatus = PoolStatus;

export type Mesh = MeshCore & {
  /** Registered with the distributor on the current connection (on NATS alone: connected to a NATS server). */
  readonly registered: boolean;
  /** Tells the mesh this node serves nothing any more, so others stop sending it new requests. */
  leave(): void;
  close(): void;
  /** Requests in flight (zero whenever the node is idle) and each instance connected to. */
  status(): MeshStatus;
  /** `GET uri` to every ready Pilcrow instance, each one's answer or why none came (pool.ts askEach). */
  askEach(uri: string, timeoutMs: number): Promise<InstanceReply[]>;
  /** Whether some instance serves (or served) `route` (`GET/goods`): a route's name is safe to count by then. */
  knows(route: string): boolean;
};

export function joinMesh(options: MeshOptions): Mesh {
  const { log, connectTo, nats } = options;
  if (!options.distributor && !nats) throw new Error("a mesh needs a distributor, NATS, or both");
  const wanted = (nodes: NodeInfo[]) => connectTo ? nodes.filter(connectTo) : nodes;
  let presence: Presence | undefined;
  const pool = new InstancePool({
    log,
    tcp: options.tcp,
    heartbeatMs: options.heartbeatMs,
    secret: options.secret,
    nats: nats && { bus: nats, vanished: (subject, sentAt) => presence?.forget(subject, sentAt) },
  });
  const registry: RegistryLink | undefined = options.distributor && linkToRegistry({
    distributor: options.distributor,
    self: options.self,
    log,
    tcp: options.tcp,
    secret: options.secret,
    notified: (nodes, connectedAt) => pool.update(wanted(nodes), connectedAt, "distributor"),
  });
  if (nats) {
    const { subject, name, urls } = options.self;
    presence = joinPresence({
      bus: nats,
      self: subject ? { subject, name, urls, pilcrow: PILCROW_PROTOCOL } : undefined,
      notified: options.callsOthers === false ? undefined : (nodes) => pool.update(wanted(nodes), 0, "nats"),
    });
  }
  // Keys count up from 0 per process, across all routes (docs/protocol.md §6: the API client's answers show 0 to 7).
  let nextKey = 0;
  // Asking every instance for its report (a scrape, the live page) takes keys of its own, below the pings' -1: the
  // requests' keys stay as the book's transcript shows them, whoever looks at the mesh.
  let nextAskKey = -2;
  return {
    request: (route, params, requestOptions) => sendRequest(pool, log, nextKey++, route, params, requestOptions),
    get registered() {
      return registry ? registry.registered : nats!.up;
    },
    leave() {
      registry?.leave();
      presence?.leave();
    },
    close() {
      registry?.close();
      presence?.close();
      pool.close();
    },
    status: () => pool.status(),
    askEach: (uri, timeoutMs) => pool.askEach(uri, timeoutMs, () => nextAskKey--),
    knows: (route) => pool.knows(route),
  };
}
