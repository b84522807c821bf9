/**
 * The gateway's Hono app (docs/protocol.md §4): a thin HTTP face over the mesh core. One catch-all route turns
 * `METHOD /path` and its params into a request for the route `METHOD/path` with the gateway's deadline, and
 * the service's answer into a 200 JSON body, passed on as it came; the mesh core's failures become their HTTP
 * status (problems.ts).
 */
import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { secureHeaders } from "hono/secure-headers";
import { DASHBOARD_PATH, type DashboardOptions, mountDashboard } from "../dashboard/routes.ts";
import type { Logger } from "../log.ts";
import { LOGS_ROUTE } from "../logs/settings.ts";
import { type MeshCore, MeshError } from "../mesh/core.ts";
import type { GatewayMetrics } from "../metrics/gateway-metrics.ts";
import { closeSpan, openSpan, recording, SpanKind } from "../trace/spans.ts";
import { parseTraceparent, type TraceContext } from "../trace/traceparent.ts";
import { BadRequest, readIdempotencyKey, readParams } from "./params.ts";
import { answerStatus, meshProblem, problemJson } from "./problems.ts";
import { SecretToken } from "./secret-token.ts";

export const DEFAULT_TIMEOUT_MS = 5000;
/** With `¶` escaped as 6 bytes, a body this size stays under the services' 1 MiB frame limit. */
export const DEFAULT_BODY_LIMIT_BYTES = 128 * 1024;

export interface GatewayAppOptions {
  mesh: MeshCore;
  log: Logger;
  timeoutMs?: number;
  bodyLimitBytes?: number;
  /** What `GET /_pilcrow/status` shows; not served without it (it shows the mesh's layout). */
  status?: () => unknown;
  /** Origins allowed to call from a browser (`*` for any); none by default. */
  corsOrigins?: string[];
  /** Counts every request by route (the gateway's metrics and the live page read them). */
  metrics?: GatewayMetrics;
  /** Whether a service serves `route` (`GET/goods`): only such routes are counted by name, the rest as `other`. */
  knows?: (route: string) => boolean;
  /** Serves `GET /metrics` with what it gives (the whole mesh's metrics, Prometheus's text format). */
  scrape?: () => Promise<string>;
  /** Asked of every scrape as `Authorization: Bearer …` when set (the gateway sets it off loopback). */
  metricsToken?: string;
  /** Serves the live page at /_pilcrow/. */
  dashboard?: DashboardOptions;
  /**
   * Routes served only inside the mesh, never from HTTP: the logs service's `POST/logs` by default (a client must
   * not write into every node's log file).
   */
  meshOnly?: ReadonlySet<string>;
}

export const STATUS_PATH = "/_pilcrow/status";
export const METRICS_PATH = "/metrics";
const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
/** The route label of every request no service serves: a path is the client's to choose, a label must not be. */
export const OTHER_ROUTE = "other";
/** What the gateway never routes from HTTP (GatewayAppOptions.meshOnly). */
const MESH_ONLY_ROUTES: ReadonlySet<string> = new Set([LOGS_ROUTE]);
/** Every path of the live page starts so (`/_pilcrow` redirects to `/_pilcrow/`). */
const DASHBOARD_PREFIX = DASHBOARD_PATH.slice(0, -1);

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

type GatewayEnv = { Variables: { requestId: string; trace?: TraceContext; log?: Logger } };

/**
 * The headers of every JSON answer, the per-request ones as empty slots: a copy of an object made so takes V8's
 * fast clone, and filling its slots keeps its shape. Spreading SECURE_HEADERS into a new literal per answer cost
 * 2.6 µs on Node, a tenth of the gateway's CPU per request; this copy costs 0.02 µs.
 */
const JSON_HEADERS: Record<string, string> = {
  ...SECURE_HEADERS,
  "content-type": "application/json",
  "x-request-id": "",
  traceparent: "",
};
const { traceparent: _, ...JSON_HEADERS_UNTRACED } = JSON_HEADERS;

/** Every answer of the gateway: JSON, the secure headers, the request's id and trace; Retry-After when given. */
function respond(
  c: Context<GatewayEnv>,
  status: number,
  json: string | Uint8Array<ArrayBuffer>,
  retryAfter?: number,
): Response {
  const trace = c.get("trace");
  const headers: Record<string, string> = trace ? { ...JSON_HEADERS } : { ...JSON_HEADERS_UNTRACED };
  headers["x-request-id"] = c.get("requestId");
  if (trace) headers.traceparent = trace.traceparent;
  if (retryAfter !== undefined) headers["retry-after"] = String(retryAfter);
  return new Response(json, { status, headers });
}

/**
 * The gateway's own refusal. A refused request that came with a body closes its connection after the answer: the
 * body may be unread (too large, a route served only inside the mesh, a malformed Idempotency-Key) with the rest of
 * it still on its way, and Node's adapter ends such a connection 500 ms after the answer whatever the client sent
 * on it since (@hono/node-server's drainIncoming): a client told to close opens a new one instead of losing a request.
 */
function problem(c: Context<GatewayEnv>, status: number, errormessage: string): Response {
  const answer = respond(c, status, problemJson(errormessage));
  if (hasBody(c)) answer.headers.set("connection", "close");
  return answer;
}

function hasBody(c: Context<GatewayEnv>): boolean {
  const length = c.req.header("content-length");
  return (length !== undefined && length !== "0") || c.req.header("transfer-encoding") !== undefined;
}

/** Hono's request-id rule: a caller's X-Request-Id is kept when sane, else a fresh UUID. */
function requestIdOf(c: Context): string {
  const given = c.req.header("x-request-id");
  return given && given.length <= 255 && !/[^\w\-=]/.test(given) ? given : crypto.randomUUID();
}

export function gatewayApp(options: GatewayAppOptions): Hono<GatewayEnv> {
  const { mesh, log } = options;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxSize = options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES;

  const app = new Hono<GatewayEnv>();
  const { status, scrape, dashboard, metrics, knows } = options;
  const meshOnly = options.meshOnly ?? MESH_ONLY_ROUTES;
  /** A path is the client's to choose: only a route some service serves names a metric or a span. */
  const routeOf = (c: Context<GatewayEnv>): string => {
    // HEAD is the GET without its body: Hono dispatches it as a GET and drops the body of the answer.
    const asked = (c.req.method === "HEAD" ? "GET" : c.req.method) + c.req.path;
    return knows?.(asked) && !meshOnly.has(asked) ? asked : OTHER_ROUTE;
  };
  /** The gateway's own pages: neither traced nor counted (a scrape must not count itself). */
  const ownPath = (path: string) =>
    (status !== undefined && path === STATUS_PATH) || (scrape !== undefined && path === METRICS_PATH)
    || (dashboard !== undefined && path.startsWith(DASHBOARD_PREFIX));
  // Every request gets its id here, and every request for the mesh is traced and counted from here, before its body
  // is read: a 413 or a 400 carries its traceparent and is counted as any answer is. One middleware, not two: each
  // costs every request a dispatch.
  app.use(async (c, next) => {
    c.set("requestId", requestIdOf(c));
    if (ownPath(c.req.path)) return next();
    // The route names a metric or a span: worked out only when something counts or records.
    const route = metrics || recording() ? routeOf(c) : OTHER_ROUTE;
    const span = openSpan(
      route === OTHER_ROUTE ? c.req.method : `${c.req.method} ${c.req.path}`,
      SpanKind.SERVER,
      parseTraceparent(c.req.header("traceparent")),
      () => ({ "http.request.method": c.req.method, "url.path": c.req.path, "pilcrow.request_id": c.get("requestId") }),
    );
    c.set("trace", span.context);
    // Every line about this request, here and in the mesh core, carries its ids.
    c.set("log", log.child({ requestId: c.get("requestId"), traceId: span.context.traceId }));
    metrics?.requestStarted(route);
    const startedAt = performance.now();
    let answered = 500;
    try {
      await next();
      answered = c.res.status;
    } finally {
      metrics?.requestEnded(route, answered, performance.now() - startedAt);
      closeSpan(
        span,
        answered >= 500 ? `HTTP ${answered}` : undefined,
        () => ({ "http.response.status_code": answered }),
      );
    }
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
      (c.get("log") ?? log).warn("unreadable request body", (error as Error).message);
      return problem(c, 400, "the request body could not be read");
    }
  });

  if (status) app.get(STATUS_PATH, (c) => respond(c, 200, JSON.stringify(status())));
  if (scrape) {
    const token = options.metricsToken === undefined ? undefined : new SecretToken(options.metricsToken);
    app.get(METRICS_PATH, async (c) => {
      if (token && !token.bearerIn(c.req.header("authorization"))) {
        return new Response("a scrape needs Authorization: Bearer <PILCROW_METRICS_TOKEN>\n", {
          status: 401,
          headers: { ...SECURE_HEADERS, "content-type": "text/plain; charset=utf-8", "www-authenticate": "Bearer" },
        });
      }
      return new Response(await scrape(), {
        headers: { ...SECURE_HEADERS, "content-type": PROMETHEUS_CONTENT_TYPE, "x-request-id": c.get("requestId") },
      });
    });
  }
  if (dashboard) mountDashboard(app, dashboard);

  /** The request passed on to the mesh, and its answer (or why there is none) as the HTTP answer. */
  const relay = async (
    c: Context<GatewayEnv>,
    method: string,
    trace: TraceContext,
    requestLog: Logger,
  ): Promise<Response> => {
    let params: Record<string, unknown>;
    let idempotencyKey: string | undefined;
    try {
      idempotencyKey = readIdempotencyKey(c);
      params = await readParams(c);
    } catch (error) {
      if (error instanceof BadRequest) return problem(c, error.status, error.message);
      throw error;
    }
    try {
      const answer = await mesh.request(method + c.req.path, params, {
        deadline: Date.now() + timeoutMs,
        trace,
        log: requestLog,
        ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
      });
      // The service's answer as it came, its bytes passed on: neither parsed nor encoded again (wire/answer.ts).
      return respond(c, answerStatus(answer), answer.body);
    } catch (error) {
      if (!(error instanceof MeshError)) throw error;
      const failed = meshProblem(error);
      return respond(c, failed.status, failed.json, failed.retryAfter);
    }
  };
  app.all("*", (c) => {
    const method = c.req.method === "HEAD" ? "GET" : c.req.method;
    if (meshOnly.has(method + c.req.path)) {
      return problem(c, 404, `${method} ${c.req.path} is served only inside the mesh`);
    }
    return relay(c, method, c.get("trace")!, c.get("log")!);
  });

  app.onError((error, c) => {
    (c.get("log") ?? log.child({ requestId: c.get("requestId") })).error("gateway error", error);
    return problem(c, 500, "internal gateway error");
  });
  return app;
}
