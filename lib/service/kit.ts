/**
 * The service kit: a service declares its name and a handler per route (`POST/goods`…) with a schema for
 * its params; the kit listens, registers with the distributor, and answers every packet with the
 * request's key (SPEC §2: `params.key`, as the book's gateway sends it, or the top-level `key`).
 */
import * as v from "valibot";
import type { Endpoint } from "../config.ts";
import type { Logger } from "../log.ts";
import { joinMesh } from "../mesh-member.ts";
import type { ListenAddress, TcpImplementation } from "../runtime/types.ts";
import { StoreError } from "../store/contract.ts";
import { listenPackets } from "../tcp/server.ts";
import { isPing, pong } from "../wire/heartbeat.ts";
import type { Packet } from "../wire/packet.ts";
import { INVALID_PARAMETERS, ServiceError } from "./errors.ts";

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What a handler returns on success: extra fields of the answer, such as `results` or `userid`. */
export type Extras = Record<string, unknown> | void;

export interface Route {
  params: v.GenericSchema;
  handle(params: unknown): Promise<Extras>;
}

/** Declares a route; the handler receives params already checked and converted by the schema. */
export function route<S extends v.GenericSchema>(
  params: S,
  handle: (params: v.InferOutput<S>) => Promise<Extras>,
): Route {
  return { params, handle: handle as Route["handle"] };
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
}

export const DEFAULT_DRAIN_MS = 5000;

export interface RunningService {
  readonly address: ListenAddress;
  /** Requests being handled now. */
  readonly inFlight: number;
  /**
   * Stops gracefully: tells the distributor it serves nothing, stops accepting connections, lets the
   * requests in flight finish and waits for gateways to let go (they close their connection once they have
   * dropped this instance and had their answers) — for at most `drainMs` — then closes.
   */
  close(drainMs?: number): Promise<void>;
}

export interface Answer {
  key: unknown;
  errorcode: 0 | 1;
  errormessage: string;
  [extra: string]: unknown;
}

export async function startService(options: ServiceOptions): Promise<RunningService> {
  const { log } = options;
  const answer = answerer(options.routes, log);
  let inFlight = 0;
  const server = await listenPackets({
    hostname: options.hostname,
    port: options.port,
    log,
    tcp: options.tcp,
    secret: options.secret,
    identity: { role: "service", name: options.name },
    packet(packet, connection) {
      if (isPing(packet)) return void connection.send(pong(packet));
      inFlight++;
      void answer(packet)
        .then((reply) => connection.send(reply))
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
      while ((inFlight > 0 || server.connections.size > 0) && Date.now() < deadline) await delay(20);
      if (inFlight > 0 || server.connections.size > 0) {
        log.warn("drain timeout", `${inFlight} request(s) in flight, ${server.connections.size} connection(s) open`);
      }
      member.close();
      await server.close();
    },
  };
}

/** Turns a request packet into its answer; never rejects. */
export function answerer(routes: Record<string, Route>, log: Logger): (packet: Packet) => Promise<Answer> {
  return async (packet) => {
    const params = isRecord(packet.params) ? packet.params : undefined;
    const key = echoableKey(params?.key ?? packet.key);
    if (typeof packet.method !== "string" || typeof packet.uri !== "string") {
      return failure(key, "a request needs a string uri and method");
    }
    const routeKey = `${packet.method}${packet.uri}`;
    const route = Object.hasOwn(routes, routeKey) ? routes[routeKey] : undefined;
    if (!route) return failure(key, `unknown route ${routeKey.slice(0, 100)}`);
    const parsed = v.safeParse(route.params, params ?? {});
    if (!parsed.success) return failure(key, INVALID_PARAMETERS);
    try {
      const extras = await route.handle(parsed.output);
      return { key, errorcode: 0, errormessage: "success", ...extras };
    } catch (error) {
      if (error instanceof ServiceError) return failure(key, error.message);
      // Details (driver errors may quote SQL) go to the log only; the client gets a short message.
      if (error instanceof StoreError) {
        log.error("database error", routeKey, (error.cause as Error)?.message ?? error.cause);
        return failure(key, error.message);
      }
      log.error("internal error", routeKey, error);
      return failure(key, "Internal Error");
    }
  };
}

/** The key to answer with: numbers and short strings only — anything else could not be echoed safely. */
function echoableKey(key: unknown): unknown {
  if (typeof key === "number" || (typeof key === "string" && key.length <= 64)) return key;
  return undefined;
}

function failure(key: unknown, errormessage: string): Answer {
  return { key, errorcode: 1, errormessage };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
