/**
 * A node's connections to the instances it sends requests to: one per instance, and per route the instances
 * that serve it, chosen round robin. Instances come and go one by one as the distributor's list changes; an
 * instance whose connection is down is skipped (and reconnected in the background) until the list drops it.
 * A Pilcrow instance is routed to only once it has answered a ping on its connection (a connect can succeed to
 * a frozen process: the kernel accepts for it), and is watched by heartbeats from then on.
 *
 * Routing never stops while the distributor restarts (docs/protocol.md §3): after the node connects to it again,
 * every node is registering again, book nodes on a 3-second timer; for a grace period an instance missing from
 * the list is kept while its connection is up. One listed with no urls (a node that leaves) goes at once.
 */
import { clearTimeout, setTimeout } from "node:timers";
import type { Logger } from "../log.ts";
import type { TcpImplementation } from "../runtime/types.ts";
import { PacketClient } from "../tcp/client.ts";
import { DEFAULT_HEARTBEAT_MS, ping, PONG_URI } from "../wire/heartbeat.ts";
import { addressOf, reachableHost } from "../wire/node-info.ts";
import type { NodeInfo, Packet } from "../wire/packet.ts";
import type { InstanceLink, LinkEvents } from "./link.ts";
import { Liveness } from "./liveness.ts";
import type { NatsBus } from "./nats/bus.ts";

export interface Instance {
  /** Its address, `host:port`, or its NATS subject. */
  readonly id: string;
  readonly name: string;
  /** A TCP connection, or a NATS subject (lib/mesh/link.ts). */
  readonly client: InstanceLink;
  /** What it registered last: its urls are its routes. */
  node: NodeInfo;
  /** Connected and, for a Pilcrow node, has answered a ping on this connection: safe to route to. */
  ready: boolean;
  /** It went quiet while connected (missed its heartbeats) and has not answered a ping since. */
  frozen: boolean;
  readonly lastReceivedAt: number;
  /** What this node sent it, and how that went (request.ts counts; metrics and the live page read). */
  readonly counts: InstanceCounts;
}

/** Requests sent to one instance since it was added, and how many of them failed or timed out. */
export interface InstanceCounts {
  requests: number;
  /** Answered with errorcode 1 (a refusal included), or lost on the way. */
  errors: number;
  timeouts: number;
}

/**
 * How an instance is now: `ready` to be routed to; `connecting` (not connected yet, or connected and not yet
 * answering its first ping); `frozen` (connected, but quiet past its heartbeats: a stopped process, a pulled cable).
 */
export type InstanceHealth = "ready" | "connecting" | "frozen";

interface RouteEntry {
  instances: Instance[];
  next: number;
}

/** One instance's answer to `askEach`, or why it gave none. */
export interface InstanceReply {
  id: string;
  name: string;
  packet?: Packet;
  error?: string;
}

/** Why `pick` found nobody: the route was never served, or it is served by no live instance now. */
export const UNKNOWN_ROUTE = Symbol("unknown route");
export const NO_LIVE_INSTANCE = Symbol("no live instance");

export interface InstancePoolOptions {
  log: Logger;
  /** Ping interval for quiet Pilcrow instances (default 2000 ms; 0: off); one quiet for 3 intervals is dropped. */
  heartbeatMs?: number;
  /** The mesh secret: an instance must prove it knows it before it is sent anything. */
  secret?: string;
  tcp?: TcpImplementation;
  /** The NATS mesh, for instances listed with a subject; `vanished` hears of one that NATS says is gone. */
  nats?: { bus: NatsBus; vanished(subject: string, sentAt: number): void };
}

/** Where a list of nodes comes from: a node may be on both meshes at once (a gateway moving a team over). */
export type ListSource = "distributor" | "nats";

/**
 * How long after the node connects to the distributor an unlisted, connected instance is kept: twice the book's
 * 3-second re-registration timer (Pilcrow nodes retry within 3 s too), room for a slow turn.
 */
export const DEFAULT_RELIST_GRACE_MS = 6000;

/**
 * Pings use a negative key: request keys count up from 0 (docs/protocol.md §6), so a pong can never be taken for an
 * answer.
 */
const PING_KEY = -1;

export interface PoolStatus {
  /** Requests in flight on every instance: zero whenever the node is idle. */
  inFlight: number;
  instances: InstanceStatus[];
}

export interface InstanceStatus extends InstanceCounts {
  id: string;
  name: string;
  /** The routes it serves (`GET/goods`). */
  urls: string[];
  /** Whether it is a Pilcrow node (it answers pings and `GET /_pilcrow/node`), not a book one. */
  pilcrow: boolean;
  connected: boolean;
  ready: boolean;
  health: InstanceHealth;
  inFlight: number;
}

export class InstancePool {
  #options: InstancePoolOptions;
  #instances = new Map<string, Instance>();
  #routes = new Map<string, RouteEntry>();
  /** Routes ever served: a route whose instances are all gone has no live instance, it is not unknown. */
  #knownRoutes = new Set<string>();

  #heartbeatMs: number;
  #liveness: Liveness<Instance>;

  /** The last list of each source, applied again when the grace ends. */
  #lists = new Map<ListSource, NodeInfo[]>();
  #graceEndsAt = 0;
  #graceTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: InstancePoolOptions) {
    this.#options = options;
    this.#heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    this.#liveness = new Liveness<Instance>({
      ping: (instance, intervalMs) => instance.client.send(ping(PING_KEY, intervalMs)),
      gone: (instance, quietMs) => {
        options.log.warn("no heartbeat from instance", instance.id, instance.name, `${quietMs} ms`);
        instance.ready = false;
        instance.frozen = true;
        instance.client.reset();
      },
    });
  }

  /**
   * Applies the whole current list of nodes of one source: a distributor notification, received on a connection
   * to the distributor made at `connectedAt`, or the NATS mesh's table (which needs no grace: instances announce
   * themselves again after a reconnect, and those gone are found by their links).
   */
  update(nodes: NodeInfo[], connectedAt = 0, source: ListSource = "distributor"): void {
    this.#lists.set(source, nodes);
    if (source === "distributor") this.#graceEndsAt = connectedAt + DEFAULT_RELIST_GRACE_MS;
    this.#apply();
  }

  #apply(): void {
    const inGrace = Date.now() < this.#graceEndsAt;
    const listed = new Set<string>();
    const wanted = new Map<string, NodeInfo>();
    for (const nodes of this.#lists.values()) {
      for (const node of nodes) {
        const id = instanceId(node);
        if (id === undefined) continue;
        listed.add(id);
        if (node.urls.length > 0) wanted.set(id, node);
      }
    }
    let kept = false;
    for (const [id, instance] of this.#instances) {
      if (wanted.has(id)) continue;
      if (inGrace && !listed.has(id) && !instance.node.subject && instance.client.connected) {
        wanted.set(id, instance.node);
        kept = true;
        continue;
      }
      this.#instances.delete(id);
      this.#liveness.forget(instance);
      // Requests already sent to it still get their answers: a leaving instance finishes what it has.
      instance.client.retire();
      this.#options.log.info("instance removed", id);
    }
    if (kept) this.#applyWhenGraceEnds();
    const routes = new Map<string, Instance[]>();
    for (const [id, node] of wanted) {
      const instance = this.#instances.get(id) ?? this.#add(id, node);
      instance.node = node;
      for (const url of node.urls) {
        this.#knownRoutes.add(url);
        const list = routes.get(url);
        if (list) list.push(instance);
        else routes.set(url, [instance]);
      }
    }
    const previous = this.#routes;
    this.#routes = new Map();
    for (const [url, instances] of routes) {
      this.#routes.set(url, { instances, next: (previous.get(url)?.next ?? 0) % instances.length });
    }
  }

  /** Drops the instances still unlisted when the grace ends, even if no notification comes by then. */
  #applyWhenGraceEnds(): void {
    if (this.#graceTimer) return;
    this.#graceTimer = setTimeout(() => {
      this.#graceTimer = undefined;
      this.#apply();
    }, Math.max(0, this.#graceEndsAt - Date.now())).unref();
  }

  knows(route: string): boolean {
    return this.#knownRoutes.has(route);
  }

  /** The next live instance for the route, round robin, skipping those in `exclude`. */
  pick(route: string, exclude?: ReadonlySet<Instance>): Instance | typeof UNKNOWN_ROUTE | typeof NO_LIVE_INSTANCE {
    const entry = this.#routes.get(route);
    if (!entry) return this.#knownRoutes.has(route) ? NO_LIVE_INSTANCE : UNKNOWN_ROUTE;
    const { instances } = entry;
    for (let step = 0; step < instances.length; step++) {
      const index = (entry.next + step) % instances.length;
      const instance = instances[index];
      if (instance.ready && instance.client.connected && !exclude?.has(instance)) {
        entry.next = (index + 1) % instances.length;
        return instance;
      }
    }
    return NO_LIVE_INSTANCE;
  }

  status(): PoolStatus {
    let inFlight = 0;
    const instances = [...this.#instances.values()].map((instance) => {
      inFlight += instance.client.inFlight;
      return {
        id: instance.id,
        name: instance.name,
        urls: instance.node.urls,
        pilcrow: instance.node.pilcrow !== undefined,
        connected: instance.client.connected,
        ready: instance.ready,
        health: instance.ready ? "ready" : instance.frozen ? "frozen" : "connecting",
        inFlight: instance.client.inFlight,
        ...instance.counts,
      } satisfies InstanceStatus;
    });
    return { inFlight, instances };
  }

  /**
   * Sends `GET uri` to every ready Pilcrow instance at once (book nodes know no such route) and resolves, by
   * `timeoutMs` at the latest, with each one's answer or why there is none. For what every node reports about
   * itself (`/_pilcrow/node`): one scrape or one page shows the whole mesh.
   */
  askEach(uri: string, timeoutMs: number, nextKey: () => number): Promise<InstanceReply[]> {
    const asked = [...this.#instances.values()].filter((instance) =>
      instance.ready && instance.client.connected && instance.node.pilcrow !== undefined
    );
    return Promise.all(asked.map(async ({ id, name, client }): Promise<InstanceReply> => {
      const key = nextKey();
      try {
        const { packet } = await client.requestAnswer(
          { uri, method: "GET", params: { key }, key, timeout: timeoutMs },
          timeoutMs,
        );
        return { id, name, packet };
      } catch (error) {
        return { id, name, error: (error as Error).message };
      }
    }));
  }

  close(): void {
    this.#liveness.close();
    clearTimeout(this.#graceTimer);
    // Forgotten before they close: a connection this pool closes itself is no loss to warn about.
    const instances = [...this.#instances.values()];
    this.#instances.clear();
    for (const instance of instances) instance.client.close();
    this.#routes.clear();
  }

  #add(id: string, node: NodeInfo): Instance {
    const { log } = this.#options;
    const heartbeatMs = this.#heartbeatMs;
    // A Pilcrow node answers pings, so its liveness is checked, not assumed (unless heartbeats are off).
    const pinged = node.pilcrow !== undefined && heartbeatMs > 0;
    const events: LinkEvents = {
      connected: (client) => {
        if (!pinged) return this.#ready(instance);
        // Ready once it answers this ping; gone, like any watched peer, if it stays quiet.
        client.send(ping(PING_KEY, heartbeatMs));
        this.#liveness.watch(instance, heartbeatMs);
      },
      disconnected: (_client, error) => {
        instance.ready = false;
        this.#liveness.forget(instance);
        // An instance removed from the list (a service that left) closes its connection when it is done: expected.
        const listed = this.#instances.get(id) === instance;
        (listed ? log.warn : log.debug)("instance connection lost", id, node.name, error?.message ?? "");
      },
      unsolicited: (packet) => {
        // Most often the answer to a request that timed out here (which was said then): not worth a warning.
        if (packet.uri !== PONG_URI) {
          return log.debug("late answer, or one to no request", id, `key ${typeof packet.key}`);
        }
        if (!instance.ready) this.#ready(instance);
      },
    };
    const client = this.#link(node, events);
    const instance: Instance = {
      id,
      name: node.name,
      client,
      node,
      ready: false,
      frozen: false,
      counts: { requests: 0, errors: 0, timeouts: 0 },
      get lastReceivedAt() {
        return client.lastReceivedAt;
      },
    };
    this.#instances.set(id, instance);
    // The distributor logs the entry at info when it lists it; here what matters is when it is connected.
    log.debug("instance added", id, node.name);
    client.open();
    return instance;
  }

  /** A NATS subject for a node listed with one, a TCP connection otherwise. */
  #link(node: NodeInfo, events: LinkEvents): InstanceLink {
    const { log, tcp, secret, nats } = this.#options;
    if (node.subject) {
      if (!nats) throw new Error(`a NATS instance was listed to a node not on NATS: ${node.subject}`);
      return nats.bus.link(node.subject, events, (link, sentAt) => nats.vanished(link.subject, sentAt));
    }
    return new PacketClient({
      hostname: reachableHost(node.host!),
      port: node.port,
      log,
      tcp,
      secret,
      peer: { role: "service", name: node.name },
      answersByHead: node.pilcrow !== undefined,
      ...events,
    });
  }

  #ready(instance: Instance): void {
    instance.ready = true;
    instance.frozen = false;
    this.#options.log.info("instance connected", instance.id, instance.name);
  }
}

/** How a listed node is known: its NATS subject, or its address; undefined for one listed with neither. */
function instanceId(node: NodeInfo): string | undefined {
  if (node.subject) return node.subject;
  return node.host ? addressOf(node) : undefined;
}
