/**
 * The service kit: a service declares its name and a handler per route (`POST/goods`…) with a schema for
 * its params; the kit listens, registers with the distributor, and answers every packet (answer.ts). It
 * sheds load: beyond `maxInFlight` requests at once each is refused at once as busy, and every request
 * carries the deadline its caller set, for the handler to drop work nobody waits for any more.
 */
import type * as v from "valibot";
import type { Endpoint } from "../config.ts";
import type { Logger } from "../log.ts";
import { joinMesh } from "../mesh-member.ts";
import type { ListenAddress, TcpImplementation } from "../runtime/types.ts";
import type { PacketConnection } from "../tcp/connection.ts";
import { listenPackets } from "../tcp/server.ts";
import { frameText } from "../wire/codec.ts";
import { isPing, pong } from "../wire/heartbeat.ts";
import { answerer, busy, keyOf } from "./answer.ts";
import { ServiceBusyError } from "./errors.ts";

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What a handler returns on success: extra fields of the answer, such as `results` or `userid`. */
export type Extras = Record<string, unknown> | void;

/** What a handler knows of its request besides the params. */
export interface RequestContext {
  /**
   * Date.now() past which nobody waits for the answer: the `timeout` the caller sent (the gateway sends the
   * ms it will wait) counted from the packet's arrival, so no two clocks need agree; Infinity without one.
   * Work queued behind other work checks it when its turn comes (WorkQueue).
   */
  readonly deadline: number;
}

export interface RouteOptions {
  /** Told to a client whose answer was too large to send, after its size: how to ask for less. */
  tooLargeAdvice?: string;
}

export interface Route extends RouteOptions {
  params: v.GenericSchema;
  handle(params: unknown, context: RequestContext): Promise<Extras>;
}

/** Declares a route; the handler receives params already checked and converted by the schema. */
export function route<S extends v.GenericSchema>(
  params: S,
  handle: (params: v.InferOutput<S>, context: RequestContext) => Promise<Extras>,
  options: RouteOptions = {},
): Route {
  return { params, handle: handle as Route["handle"], ...options };
}

export interface ServiceOptions {
  name: string;
  /** Routes keyed by method and path, as the gateway routes them: `GET/goods`. */
  routes: Record<string, Route>;
  hostname: string;
  port: number;
  distributor: Endpoint;
  log: Logger;
  /** The host the gateway should use to reach this service, when not the address the distributor sees. */
  advertisedHost?: string;
  /** The mesh secret: only peers that prove they know it are answered, and the distributor must prove it too. */
  secret?: string;
  tcp?: TcpImplementation;
  /** Requests handled at once; beyond it each is refused at once as busy (default DEFAULT_MAX_IN_FLIGHT). */
  maxInFlight?: number;
}

export const DEFAULT_DRAIN_MS = 5000;

/**
 * Envoy's default cap on requests to one upstream. High enough that a burst of small requests decoded from
 * one TCP read (all started before any finishes) is never refused; low enough to bound what a flood holds.
 * Costly work has its own, tighter bound (WorkQueue).
 */
export const DEFAULT_MAX_IN_FLIGHT = 1024;

export interface RunningService {
  readonly address: ListenAddress;
  /** Requests being handled now. */
  readonly inFlight: number;
  /**
   * Stops gracefully: tells the distributor it serves nothing, stops accepting connections, lets the
   * requests in flight finish and waits for Pilcrow gateways to let go (they close their connection once
   * they have dropped this instance and had their answers) — for at most `drainMs` — then closes. Book
   * peers never close theirs, so they are not waited for: with nothing in flight, the stop is immediate.
   */
  close(drainMs?: number): Promise<void>;
}

/** An answer packet (SPEC §5): the request's key, the outcome, and a handler's extra fields. */
export interface Answer {
  key: unknown;
  errorcode: 0 | 1;
  errormessage: string;
  [extra: string]: unknown;
}

export async function startService(options: ServiceOptions): Promise<RunningService> {
  const { log } = options;
  const maxInFlight = options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
  const answer = answerer(options.routes, log);
  let inFlight = 0;
  /** Connections from Pilcrow peers — they ping, or send deadlines — which a stop waits for; book peers do neither. */
  const pilcrowPeers = new WeakSet<PacketConnection>();
  const server = await listenPackets({
    hostname: options.hostname,
    port: options.port,
    log,
    tcp: options.tcp,
    secret: options.secret,
    identity: { role: "service", name: options.name },
    packet(packet, connection) {
      if (isPing(packet)) {
        pilcrowPeers.add(connection);
        return void connection.send(pong(packet));
      }
      const { timeout } = packet;
      if (typeof timeout === "number") pilcrowPeers.add(connection);
      if (inFlight >= maxInFlight) {
        const refusal = new ServiceBusyError(`${inFlight} requests in flight`);
        return void connection.sendFrame(frameText(busy(keyOf(packet), refusal.message)));
      }
      const deadline = typeof timeout === "number" && timeout > 0 ? Date.now() + timeout : Infinity;
      inFlight++;
      void answer(packet, { deadline })
        .then((frame) => frame !== undefined && connection.sendFrame(frame))
        .finally(() => inFlight--);
    },
  });
  log.info("listen", server.address);
  const member = joinMesh({
    distributor: options.distributor,
    self: {
      port: server.address.port,
      name: options.name,
      urls: Object.keys(options.routes),
      ...(options.advertisedHost ? { host: options.advertisedHost } : {}),
    },
    log,
    tcp: options.tcp,
    secret: options.secret,
  });
  return {
    address: server.address,
    get inFlight() {
      return inFlight;
    },
    async close(drainMs = DEFAULT_DRAIN_MS) {
      member.leave();
      await server.stopAccepting();
      const deadline = Date.now() + drainMs;
      const gateways = () => [...server.connections].filter((connection) => pilcrowPeers.has(connection)).length;
      while ((inFlight > 0 || gateways() > 0) && Date.now() < deadline) await delay(20);
      if (inFlight > 0 || gateways() > 0) {
        log.warn("drain timeout", `${inFlight} request(s) in flight, ${gateways()} gateway connection(s) open`);
      }
      member.close();
      await server.close();
    },
  };
}
