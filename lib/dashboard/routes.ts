/**
 * The live page: `GET /_pilcrow/` (one HTML page, no build step, nothing from the internet) and
 * `GET /_pilcrow/events` (server-sent events: a snapshot of the mesh every second).
 *
 * STUB: the lead wired it; the dashboard helper fills it in (same API).
 */
import type { Hono } from "hono";
import type { MeshStatus } from "../mesh/mesh.ts";
import type { GatheredReport, NodeReport, RouteWindow } from "../metrics/report.ts";

export const DASHBOARD_PATH = "/_pilcrow/";

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
}

// deno-lint-ignore no-explicit-any
export function mountDashboard(app: Hono<any>, options: DashboardOptions): void {
  app.get("/_pilcrow/", (c) => c.html(`<!doctype html><title>Pilcrow</title><p>${options.source.address}</p>`));
}
