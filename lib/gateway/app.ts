/**
 * The gateway's Hono app (SPEC §4): one catch-all route that turns `METHOD /path` into a packet for a live
 * instance serving `METHOD/path`, and the service's answer into a 200 JSON body. The gateway's own failures
 * get their HTTP status and a JSON body in the book's shape: `{errorcode: 1, errormessage}`. Each packet
 * carries `timeout`, the ms the gateway will wait (a field book services ignore), so that a service can drop
 * work nobody waits for; a service's busy refusal (`retryAfter`) is tried on another instance, then becomes
 * 503 with Retry-After, as every 503 does.
 */
import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { secureHeaders } from "hono/secure-headers";
import type { Logger } from "../log.ts";
import {
  AnswerTooLargeError,
  ConnectionLostError,
  NotConnectedError,
  RequestTimeoutError,
  UnsendableError,
} from "../tcp/errors.ts";
import type { Packet } from "../wire/packet.ts";
import { type Instance, type InstancePool, NO_LIVE_INSTANCE, UNKNOWN_ROUTE } from "./instances.ts";
import { BadRequest, readParams } from "./params.ts";

export const DEFAULT_TIMEOUT_MS = 5000;
/** With `¶` escaped as 6 bytes, a body this size stays under the services' 1 MiB frame limit. */
export const DEFAULT_BODY_LIMIT_BYTES = 128 * 1024;

export interface GatewayAppOptions {
  pool: InstancePool;
  log: Logger;
  timeoutMs?: number;
  bodyLimitBytes?: number;
  /** Serve `GET /_pilcrow/status` (off by default: it shows the mesh's layout). */
  status?: boolean;
  /** Origins allowed to call from a browser (`*` for any); none by default. */
  corsOrigins?: string[];
}

export const STATUS_PATH = "/_pilcrow/status";

/** How soon a client may try again when no instance is live: the gateway reconnects within about a second. */
const NO_INSTANCE_RETRY_AFTER_SECONDS = 1;

/**
 * The headers Hono's secure-headers middleware sends, taken from it once at start-up: applying it per
 * request cost the Node gateway a fifth of its throughput (13 Headers.set calls on @hono/node-server,
 * which then copies them out again); a plain object keeps every server on its fast path.
 */
const SECURE_HEADERS: Record<string, string> = await (async () => {
  const probe = new Hono();
  probe.use(secureHeaders());
  probe.get("/", (c) => c.body(null));
  return Object.fromEntries((await probe.request("/")).headers);
})();

type GatewayEnv = { Variables: { requestId: string } };

/** Every answer of the gateway: JSON text, the secure headers and the request's id. */
function respond(c: Context<GatewayEnv>, status: number, json: string): Response {
  return new Response(json, {
    status,
    headers: { ...SECURE_HEADERS, "content-type": "application/json", "x-request-id": c.get("requestId") },
  });
}

function problem(c: Context<GatewayEnv>, status: number, errormessage: string): Response {
  return respond(c, status, JSON.stringify({ errorcode: 1, errormessage }));
}

/** A 503: nobody can take the request now; `Retry-After` says when to try again. */
function unavailable(c: Context<GatewayEnv>, json: string, retryAfterSeconds: number): Response {
  const response = respond(c, 503, json);
  response.headers.set("retry-after", String(retryAfterSeconds));
  return response;
}

/** The seconds a service's busy refusal asks the client to wait (`errorcode 1` with `retryAfter`), if it is one. */
function retryAfterOf(answer: Packet): number | undefined {
  const { retryAfter } = answer;
  if (answer.errorcode !== 1 || typeof retryAfter !== "number" || !(retryAfter > 0)) return undefined;
  return Math.ceil(Math.min(retryAfter, MAX_RETRY_AFTER_SECONDS));
}

/** A service cannot make clients stay away longer than this. */
const MAX_RETRY_AFTER_SECONDS = 60;

/** Hono's request-id rule: a caller's X-Request-Id is kept when sane, else a fresh UUID. */
function requestIdOf(c: Context): string {
  const given = c.req.header("x-request-id");
  return given && given.length <= 255 && !/[^\w\-=]/.test(given) ? given : crypto.randomUUID();
}

export function gatewayApp(options: GatewayAppOptions): Hono<GatewayEnv> {
  const { pool, log } = options;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxSize = options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES;
  // Keys count up from 0 per gateway process, across all routes (SPEC §6).
  let nextKey = 0;

  const app = new Hono<GatewayEnv>();
  app.use((c, next) => {
    c.set("requestId", requestIdOf(c));
    return next();
  });
  if (options.corsOrigins?.length) {
    app.use(cors({ origin: options.corsOrigins.includes("*") ? "*" : options.corsOrigins }));
  }
  const limit = bodyLimit({ maxSize, onError: (c) => problem(c, 413, `request body is larger than ${maxSize} bytes`) });
  app.on(["POST", "PUT"], "*", async (c, next) => {
    let reachedHandler = false;
    try {
      return await limit(c, () => {
        reachedHandler = true;
        return next();
      });
    } catch (error) {
      // Reading the body failed before the route ran: a client that hung up, a request the runtime
      // cannot rebuild (Bun with an unparsable Host). The client's fault, not the gateway's.
      if (reachedHandler) throw error;
      log.warn("unreadable request body", c.get("requestId"), (error as Error).message);
      return problem(c, 400, "the request body could not be read");
    }
  });

  if (options.status) app.get(STATUS_PATH, (c) => respond(c, 200, JSON.stringify(pool.status())));

  app.all("*", async (c) => {
    let params: Record<string, unknown>;
    try {
      params = await readParams(c);
    } catch (error) {
      if (error instanceof BadRequest) return problem(c, error.status, error.message);
      throw error;
    }
    // HEAD is the GET without its body: Hono dispatches it as a GET and drops the body of the answer.
    const method = c.req.method === "HEAD" ? "GET" : c.req.method;
    const path = c.req.path;
    const route = method + path;
    const shown = `${method.slice(0, 16)} ${path.length > 100 ? `${path.slice(0, 100)}…` : path}`;
    const key = nextKey++;
    const packet = { uri: path, method, params: { ...params, key }, key, timeout: timeoutMs };
    // Allocated only when a retry needs it: the common request never does.
    let tried: Set<Instance> | undefined;
    /** The last busy refusal, answered when no other instance is left to try. */
    let refusal: { text: string; retryAfter: number } | undefined;
    for (;;) {
      const instance = pool.pick(route, tried);
      if (instance === UNKNOWN_ROUTE) return problem(c, 404, `no service serves ${shown}`);
      if (instance === NO_LIVE_INSTANCE) {
        if (refusal) return unavailable(c, refusal.text, refusal.retryAfter);
        return tried === undefined
          ? unavailable(
            c,
            JSON.stringify({ errorcode: 1, errormessage: `no live instance serves ${shown}` }),
            NO_INSTANCE_RETRY_AFTER_SECONDS,
          )
          : problem(c, 502, `connection to the service was lost during ${shown}`);
      }
      try {
        const answer = await instance.client.requestAnswer(packet, timeoutMs);
        const retryAfter = retryAfterOf(answer.packet);
        // The service's answer as it came: valid JSON (the client parsed it to match its key), not re-encoded.
        if (retryAfter === undefined) return respond(c, 200, answer.text);
        // Refused as busy, so nothing was done: another instance may take it, whatever the method.
        refusal = { text: answer.text, retryAfter };
        (tried ??= new Set()).add(instance);
      } catch (error) {
        if (error instanceof RequestTimeoutError) {
          log.warn("timeout", c.get("requestId"), route, instance.id, `${timeoutMs} ms`);
          return problem(c, 504, `the service did not answer ${shown} within ${timeoutMs} ms`);
        }
        if (error instanceof AnswerTooLargeError) {
          // Not retried: another instance would most likely answer the same.
          log.warn("answer too large", c.get("requestId"), route, instance.id, error.message);
          return problem(c, 502, `the service's answer to ${shown} was too large to pass on`);
        }
        if (
          !(error instanceof ConnectionLostError || error instanceof NotConnectedError
            || error instanceof UnsendableError)
        ) throw error;
        log.warn("connection lost", c.get("requestId"), route, instance.id);
        // Only a GET is safe to send again: the lost instance may have done a POST before it went.
        if (method !== "GET") return problem(c, 502, `connection to the service was lost during ${shown}`);
        (tried ??= new Set()).add(instance);
      }
    }
  });

  app.onError((error, c) => {
    log.error("gateway error", c.get("requestId"), error);
    return problem(c, 500, "internal gateway error");
  });
  return app;
}
