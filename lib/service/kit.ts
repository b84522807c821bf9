/**
 * The service kit: a service is its contract (lib/contract/) and a handler per route; the kit listens,
 * joins the mesh (registers its routes with the distributor, or answers on its own subject and announces them on
 * NATS; and connects to the services it declared it uses, for `call`), and answers every packet (answer.ts). It sheds load: beyond `maxInFlight` requests at
 * once each is refused at once as busy, and every request carries the deadline its caller set, for the
 * handler to drop work nobody waits for any more and for the calls it makes to inherit.
 */
import type { Endpoint } from "../config.ts";
import type { Contract, RouteKey } from "../contract/contract.ts";
import type { Logger } from "../log.ts";
import type { MeshCore, ReceivesAt } from "../mesh/core.ts";
import { joinMesh } from "../mesh/mesh.ts";
import type { NatsBus } from "../mesh/nats/bus.ts";
import { type Responder, respondOnNats } from "../mesh/nats/responder.ts";
import { NODE_REPORT_URI } from "../metrics/report.ts";
import { ServiceMetrics } from "../metrics/service-metrics.ts";
import type { TcpImplementation } from "../runtime/types.ts";
import type { PacketConnection } from "../tcp/connection.ts";
import { listenPackets } from "../tcp/server.ts";
import type { TraceContext } from "../trace/traceparent.ts";
import { frameText } from "../wire/codec.ts";
import { isPing, pong } from "../wire/heartbeat.ts";
import type { Packet } from "../wire/packet.ts";
import { answerer, busy, keyOf, type Route, type TracedContext } from "./answer.ts";
import { MeshCaller } from "./caller.ts";
import type { AnswerChannel } from "./channel.ts";
import { ServiceBusyError } from "./errors.ts";
import type { Handlers, RequestContext } from "./handlers.ts";
import type { IdempotencyOptions } from "./idempotency.ts";

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface ServiceOptions<C extends Contract, U extends Contract = never> {
  handlers: Handlers<C, U>;
  /** The contracts of the services this one calls: `call` is typed over their routes and reaches only them. */
  uses?: readonly U[];
  hostname: string;
  port: number;
  /** The distributor of the TCP mesh, unless the service is on NATS. */
  distributor?: Endpoint;
  /** The NATS mesh: the service answers on a subject of its own and announces itself there, not to a distributor. */
  nats?: NatsBus;
  log: Logger;
  /** The host others should use to reach this service, when not the address the distributor sees. */
  advertisedHost?: string;
  /** The mesh secret: only peers that prove they know it are answered or called, the distributor included. */
  secret?: string;
  tcp?: TcpImplementation;
  /** Ping interval for the services this one calls (default 2000 ms; 0: off). */
  heartbeatMs?: number;
  /** Requests handled at once; beyond it each is refused at once as busy (default DEFAULT_MAX_IN_FLIGHT). */
  maxInFlight?: number;
  /** Where idempotency keys are kept, and for how long (docs/protocol.md §9); without it keys are ignored. */
  idempotency?: IdempotencyOptions;
  /** Routes this service sends requests to besides its contracts' (`POST/logs`, when it sends its log lines). */
  alsoCalls?: readonly string[];
}

export const DEFAULT_DRAIN_MS = 5000;

/**
 * On NATS, how long a stop waits after its leave before it stops receiving: time for the leave to reach every
 * caller on a working network. It only spares requests a detour: one that comes after the service stopped
 * receiving gets "no responders" and goes to another instance, whatever its method.
 */
const NATS_LEAVE_SETTLE_MS = 100;

/**
 * Envoy's default cap on requests to one upstream. High enough that a burst of small requests decoded from
 * one TCP read (all started before any finishes) is never refused; low enough to bound what a flood holds.
 * Costly work has its own, tighter bound (WorkQueue).
 */
export const DEFAULT_MAX_IN_FLIGHT = 1024;

export interface RunningService {
  /** Where it receives: the address it listens on, or (on NATS, where it listens on no port) its subject. */
  readonly address: ReceivesAt;
  /** Requests being handled now. */
  readonly inFlight: number;
  /** Its place in the mesh: how it reaches the services it calls. */
  readonly mesh: MeshCore;
  /**
   * Stops gracefully: tells the distributor it serves nothing, stops accepting connections, lets the
   * requests in flight finish (their calls included) and waits for Pilcrow peers to let go (they close their
   * connection once they have dropped this instance and had their answers) — for at most `drainMs` — then
   * closes. Book peers never close theirs, so they are not waited for: with nothing in flight, the stop is
   * immediate.
   */
  close(drainMs?: number): Promise<void>;
}

export async function startService<C extends Contract, U extends Contract = never>(
  contract: C,
  options: ServiceOptions<C, U>,
): Promise<RunningService> {
  const { log } = options;
  const maxInFlight = options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
  const metrics = new ServiceMetrics(contract.name);
  const answer = answerer(
    routesOf(contract, options.handlers),
    log,
    options.idempotency,
    (route, ms, failed) => metrics.handled(route, ms, failed),
  );
  const caller = new MeshCaller(options.uses ?? [], log);
  const alsoCalls = new Set(options.alsoCalls);
  let inFlight = 0;
  /** Connections from Pilcrow peers — they ping, or send deadlines — which a stop waits for; book peers do neither. */
  const pilcrowPeers = new WeakSet<PacketConnection>();
  /** Answers one packet, from a TCP connection or a NATS request alike. */
  function handle(packet: Packet, channel: AnswerChannel): void {
    if (isPing(packet)) return void channel.send(pong(packet));
    if (packet.uri === NODE_REPORT_URI && packet.method === "GET") return void reportTo(packet, channel);
    if (inFlight >= maxInFlight) {
      const refusal = new ServiceBusyError(`${inFlight} requests in flight`);
      return void channel.sendFrame(frameText(busy(keyOf(packet), refusal.message)));
    }
    const { timeout } = packet;
    const deadline = typeof timeout === "number" && timeout > 0 ? Date.now() + timeout : Infinity;
    inFlight++;
    // One promise reaction per request, for the answer and the count alike (this runs for every request).
    void answer(packet, new Scope(deadline, log, caller)).then(
      (frame) => {
        inFlight--;
        if (frame !== undefined && !channel.closed) channel.sendFrame(frame());
      },
      (error: unknown) => {
        inFlight--;
        log.error("unanswered request", (error as Error)?.message ?? String(error));
      },
    );
  }
  /** What this node says of itself, for the gateway's scrape and live page; never counted, never refused. */
  function reportTo(packet: Packet, channel: AnswerChannel): void {
    const key = keyOf(packet);
    void metrics.report().then(
      (report) =>
        channel.closed || channel.sendFrame(frameText({ key, errorcode: 0, errormessage: "success", report })),
      (error: unknown) => log.error("node report failed", (error as Error)?.message ?? String(error)),
    );
  }
  const { nats } = options;
  // On NATS the service is reached by its subject alone: a port too would be a second door, outside NATS's guard.
  const subject = nats?.instanceSubject(crypto.randomUUID());
  const server = nats ? undefined : await listenPackets({
    hostname: options.hostname,
    port: options.port,
    log,
    tcp: options.tcp,
    secret: options.secret,
    identity: { role: "service", name: contract.name },
    packet(packet, connection) {
      if (isPing(packet) || typeof packet.timeout === "number") pilcrowPeers.add(connection);
      handle(packet, connection);
    },
  });
  const responder: Responder | undefined = nats && respondOnNats(nats, subject!, handle);
  const address: ReceivesAt = server ? server.address : { subject: subject! };
  log.info("listen", address);
  const mesh = joinMesh({
    distributor: nats ? undefined : options.distributor,
    nats,
    self: {
      port: server?.address.port ?? 0,
      name: contract.name,
      urls: Object.keys(contract.routes),
      ...(options.advertisedHost ? { host: options.advertisedHost } : {}),
      ...(subject ? { subject } : {}),
    },
    log,
    tcp: options.tcp,
    secret: options.secret,
    heartbeatMs: options.heartbeatMs,
    connectTo: (node) => caller.wants(node) || node.urls.some((url) => alsoCalls.has(url)),
    callsOthers: (options.uses ?? []).length > 0 || alsoCalls.size > 0,
  });
  caller.attach(mesh);
  /** Pilcrow peers still connected over TCP: they let go once they have dropped this instance. */
  const peers = () => server ? [...server.connections].filter((connection) => pilcrowPeers.has(connection)).length : 0;
  return {
    address,
    mesh,
    get inFlight() {
      return inFlight;
    },
    async close(drainMs = DEFAULT_DRAIN_MS) {
      mesh.leave();
      const leftAt = Date.now();
      const deadline = leftAt + drainMs;
      await server?.stopAccepting();
      if (responder) {
        const settled = () => Date.now() - Math.max(leftAt, responder.lastRequestAt) >= NATS_LEAVE_SETTLE_MS;
        while ((inFlight > 0 || !settled()) && Date.now() < deadline) await delay(20);
        await responder.close();
      }
      while ((inFlight > 0 || peers() > 0) && Date.now() < deadline) await delay(20);
      if (inFlight > 0 || peers() > 0) {
        log.warn("drain timeout", `${inFlight} request(s) in flight, ${peers()} peer connection(s) open`);
      }
      mesh.close();
      await server?.close();
    },
  };
}

/**
 * A request's context. `call` is made only when a handler asks for it (most never call another service), and
 * made bound, so that handlers may take it out of the context: `async (params, { call }) => …`.
 */
class Scope implements TracedContext {
  readonly #caller: MeshCaller;
  readonly #serviceLog: Logger;
  #log: Logger | undefined;
  /** The handler's span (answer.ts sets it): each call is a span under it, each line about it carries its trace. */
  trace: TraceContext | undefined;

  constructor(readonly deadline: number, log: Logger, caller: MeshCaller) {
    this.#serviceLog = log;
    this.#caller = caller;
  }

  /** The service's log with the request's trace id on every line; made only when a line is written. */
  get log(): Logger {
    return this.#log ??= this.trace ? this.#serviceLog.child({ traceId: this.trace.traceId }) : this.#serviceLog;
  }

  get call(): RequestContext<Contract>["call"] {
    return (route, params, callOptions) =>
      this.#caller.call(route, params as Record<string, unknown>, this.deadline, callOptions, this.trace, this.log);
  }
}

/** Each declared route with its params schema and handler, as answer.ts runs them. */
function routesOf<C extends Contract, U extends Contract>(
  contract: C,
  handlers: Handlers<C, U>,
): Record<string, Route> {
  const routes: Record<string, Route> = {};
  for (const [key, spec] of Object.entries(contract.routes)) {
    const handler = (handlers as Record<string, Handlers<C, U>[keyof Handlers<C, U>] | undefined>)[key as RouteKey];
    if (!handler) throw new Error(`${contract.name}: no handler for the route ${key} its contract declares`);
    routes[key] = typeof handler === "function"
      ? { params: spec.params, handle: handler as Route["handle"] }
      : { params: spec.params, handle: handler.handle as Route["handle"], tooLargeAdvice: handler.tooLargeAdvice };
  }
  return routes;
}
