/**
 * The live page: `GET /_pilcrow/` (one HTML page, its CSS and script beside it, no build step, nothing from the
 * internet) and `GET /_pilcrow/events` (server-sent events: a snapshot of the mesh every second, one at once). With
 * a token set, every one of these paths asks for it (access.ts).
 */
import type { Context, Hono } from "hono";
import type { MeshStatus } from "../mesh/mesh.ts";
import type { GatheredReport, NodeReport, RouteWindow } from "../metrics/report.ts";
import { DashboardAccess } from "./access.ts";
import { EventStreams } from "./events.ts";
import { PAGE_SCRIPT } from "./page-script.ts";
import { PAGE_CSS, PAGE_HTML } from "./page.ts";
import { takeSnapshot } from "./snapshot.ts";
import { SnapshotTicker } from "./ticker.ts";

export const DASHBOARD_PATH = "/_pilcrow/";
export const EVENTS_PATH = `${DASHBOARD_PATH}events`;

/** What the page shows, read anew for every snapshot. */
export interface DashboardSource {
  /** The gateway itself, as a node. */
  self(): Promise<NodeReport>;
  /** Where the gateway listens (`127.0.0.1:8000`). */
  address: string;
  /** Every instance the gateway knows, with its health and counts. */
  mesh(): MeshStatus;
  /** Every ready Pilcrow instance's report (name, runtime, uptime, memory). */
  gather(): Promise<GatheredReport[]>;
  /** Each route over the last window. */
  routes(): RouteWindow[];
}

export interface DashboardOptions {
  source: DashboardSource;
  /** Asked of every visitor when set (the gateway sets one when it listens off loopback). */
  token?: string;
  /** Aborted when the gateway stops: every event stream ends (the HTTP server waits for open answers) and no new one opens. */
  closing?: AbortSignal;
  /** Event streams open at once (MAX_EVENT_STREAMS by default); past it, 503. */
  maxStreams?: number;
}

/**
 * Only what the page needs: its own script and style, its event stream, no frames, no forms; the token must not
 * leave in a Referer, and no answer is cached (they are live, and may carry the token's cookie).
 */
const HEADERS: Record<string, string> = {
  "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    + "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
  "cross-origin-resource-policy": "same-origin",
};

// deno-lint-ignore no-explicit-any
export function mountDashboard(app: Hono<any>, options: DashboardOptions): void {
  const access = new DashboardAccess(options.token);
  const ticker = new SnapshotTicker(() => takeSnapshot(options.source));
  const streams = new EventStreams(ticker, options.maxStreams);
  options.closing?.addEventListener("abort", () => {
    streams.close();
    ticker.stop();
  }, { once: true });

  const text = (status: number, body: string, extra: Record<string, string> = {}) =>
    new Response(`${body}\n`, {
      status,
      headers: { ...HEADERS, "content-type": "text/plain; charset=utf-8", ...extra },
    });
  /** Serves `answer` to whoever may see the page; sets the cookie for one who came with the token in the URL. */
  const guarded = (answer: (c: Context) => Response, page = false) => (c: Context): Response => {
    const allowed = access.check(c.req.raw);
    if (allowed === "refused") {
      return text(401, "This page needs its token: open the link the gateway logged (…/_pilcrow/?token=…).");
    }
    if (allowed === "open") return answer(c);
    const cookie = access.cookie(DASHBOARD_PATH);
    // The page drops the token from its URL (history, screenshots, a Referer): the cookie carries it from now on.
    if (page) return text(303, "See /_pilcrow/", { location: DASHBOARD_PATH, "set-cookie": cookie });
    const response = answer(c);
    response.headers.append("set-cookie", cookie);
    return response;
  };
  const file = (body: string, contentType: string) => () =>
    new Response(body, { headers: { ...HEADERS, "content-type": contentType } });

  app.get(DASHBOARD_PATH, guarded(file(PAGE_HTML, "text/html; charset=utf-8"), true));
  app.get("/_pilcrow", (c) => c.redirect(DASHBOARD_PATH + new URL(c.req.url).search, 308));
  app.get(`${DASHBOARD_PATH}page.css`, guarded(file(PAGE_CSS, "text/css; charset=utf-8")));
  app.get(`${DASHBOARD_PATH}page.js`, guarded(file(PAGE_SCRIPT, "text/javascript; charset=utf-8")));
  app.get(EVENTS_PATH, guarded((c) => streams.serve(c, HEADERS)));
}
