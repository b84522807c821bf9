/**
 * One snapshot of the mesh as the live page shows it, built from the gateway's DashboardSource: every node (the
 * gateway, each instance with its report when it is a ready Pilcrow node, a book peer with what the mesh knows of
 * it), every route with its instances and their health and the gateway's figures for it, and totals.
 */
import type { InstanceHealth, InstanceStatus } from "../mesh/pool.ts";
import type { GatheredReport, NodeReport, RouteWindow } from "../metrics/report.ts";
import type { DashboardSource } from "./routes.ts";

export interface NodeView {
  /** The instance's id in the pool (`host:port` or NATS subject); the gateway's listen address. */
  id: string;
  name: string;
  kind: "gateway" | "pilcrow" | "book";
  health: InstanceHealth;
  /** From the node's report: absent for a book peer, or a Pilcrow node that is not ready or did not answer. */
  runtime?: NodeReport["runtime"];
  version?: string;
  pid?: number;
  uptimeSeconds?: number;
  rssBytes?: number;
  heapUsedBytes?: number;
  /** What the gateway sent this instance, and how it went (absent for the gateway). */
  requests?: number;
  errors?: number;
  timeouts?: number;
  inFlight?: number;
  /** Why there is no report (a gather that failed). */
  note?: string;
}

export interface RouteInstance {
  id: string;
  name: string;
  health: InstanceHealth;
}

export interface RouteView extends RouteWindow {
  instances: RouteInstance[];
}

export interface Totals {
  /** Instances known, and how many are ready. */
  instances: number;
  ready: number;
  requestsPerSecond: number;
  requests: number;
  errors: number;
  inFlight: number;
}

export interface Snapshot {
  /** When it was taken (ms since the epoch). */
  at: number;
  nodes: NodeView[];
  routes: RouteView[];
  totals: Totals;
}

export async function takeSnapshot(source: DashboardSource): Promise<Snapshot> {
  const [self, gathered] = await Promise.all([
    source.self().catch(() => undefined),
    source.gather().catch(() => [] as GatheredReport[]),
  ]);
  // Read after the gather: an instance that went away meanwhile is shown as it is now.
  const mesh = source.mesh();
  const windows = source.routes();
  const reports = new Map(gathered.map((reply) => [reply.id, reply]));
  const gateway: NodeView = { id: source.address, name: self?.name ?? "gate", kind: "gateway", health: "ready" };
  const nodes = [
    self ? { ...gateway, ...fromReport(self) } : gateway,
    ...mesh.instances.map((instance) => instanceView(instance, reports.get(instance.id))),
  ];
  const routes = routeViews(mesh.instances, windows);
  return {
    at: Date.now(),
    nodes,
    routes,
    totals: {
      instances: mesh.instances.length,
      ready: mesh.instances.filter((instance) => instance.ready).length,
      requestsPerSecond: sum(windows, (route) => route.requestsPerSecond),
      requests: sum(windows, (route) => route.requests),
      errors: sum(windows, (route) => route.errors),
      inFlight: sum(windows, (route) => route.inFlight),
    },
  };
}

function fromReport(report: NodeReport): Partial<NodeView> {
  return {
    runtime: report.runtime,
    version: report.version,
    pid: report.pid,
    uptimeSeconds: report.uptimeSeconds,
    rssBytes: report.memory?.rssBytes,
    heapUsedBytes: report.memory?.heapUsedBytes,
  };
}

function instanceView(instance: InstanceStatus, gathered: GatheredReport | undefined): NodeView {
  const view: NodeView = {
    id: instance.id,
    name: instance.name,
    kind: instance.pilcrow ? "pilcrow" : "book",
    health: instance.health,
    requests: instance.requests,
    errors: instance.errors,
    timeouts: instance.timeouts,
    inFlight: instance.inFlight,
  };
  if (gathered?.report) return { ...view, ...fromReport(gathered.report) };
  return gathered?.error === undefined ? view : { ...view, note: gathered.error };
}

/** Every route a service serves (with its instances), and every route the gateway counted; `other` last. */
function routeViews(instances: InstanceStatus[], windows: RouteWindow[]): RouteView[] {
  const byRoute = new Map<string, RouteView>();
  const routeOf = (route: string) => {
    let view = byRoute.get(route);
    if (!view) {
      view = {
        route,
        requestsPerSecond: 0,
        p50Ms: null,
        p99Ms: null,
        errors: 0,
        inFlight: 0,
        requests: 0,
        instances: [],
      };
      byRoute.set(route, view);
    }
    return view;
  };
  for (const window of windows) Object.assign(routeOf(window.route), window);
  for (const instance of instances) {
    for (const url of instance.urls) {
      routeOf(url).instances.push({ id: instance.id, name: instance.name, health: instance.health });
    }
  }
  return [...byRoute.values()].sort((a, b) =>
    Number(a.route === "other") - Number(b.route === "other") || pathOf(a.route).localeCompare(pathOf(b.route))
    || a.route.localeCompare(b.route)
  );
}

/** `GET/goods` → `/goods`: routes sort by path, then method. */
function pathOf(route: string): string {
  return route.slice(route.indexOf("/"));
}

function sum<T>(items: T[], value: (item: T) => number): number {
  return items.reduce((total, item) => total + value(item), 0);
}
