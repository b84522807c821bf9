/**
 * What every Pilcrow node says about itself when asked `GET /_pilcrow/node` over the mesh, and what the gateway
 * keeps per route: the shapes the metrics (lib/metrics/) and the live page (lib/dashboard/) share.
 */
import type { MetricObjectWithValues, MetricValue } from "prom-client";

/** `GET /_pilcrow/node`: the uri every Pilcrow service answers besides its contract's routes. */
export const NODE_REPORT_URI = "/_pilcrow/node";

export interface NodeReport {
  /** The service's name (`goods`), or `gate`. */
  name: string;
  runtime: "node" | "bun" | "deno";
  /** The runtime's version (`20.20.2`). */
  version: string;
  pid: number;
  uptimeSeconds: number;
  memory: { rssBytes: number; heapUsedBytes: number };
  /** The node's own metrics, as prom-client's getMetricsAsJSON gives them (labelled with service and instance). */
  metrics: MetricObjectWithValues<MetricValue<string>>[];
}

/** One instance's report as the gateway gathered it, or why there is none. */
export interface GatheredReport {
  /** The instance's id in the pool: `host:port`, or its NATS subject. */
  id: string;
  name: string;
  report?: NodeReport;
  error?: string;
  /** Metric families and samples of its report the gateway left out (malformed or past the limits: sanitize.ts). */
  rejectedSamples?: number;
}

/** One route as the gateway saw it over the last window (lib/metrics/route-stats.ts). */
export interface RouteWindow {
  /** `GET/goods`; `other` for every route no service serves (a path is never a label: a client picks it). */
  route: string;
  requestsPerSecond: number;
  /** Latency percentiles over the window, in ms; null with no request in it. */
  p50Ms: number | null;
  p99Ms: number | null;
  /** Answers with a status of 400 or more, over the window. */
  errors: number;
  inFlight: number;
  /** Since the gateway started. */
  requests: number;
}
