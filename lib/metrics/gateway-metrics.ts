/**
 * The gateway's metrics: requests by route and status, latency by route, in flight, per-instance counts and
 * instances known and ready (from the mesh's status), and — gathered over the mesh — every service's own; one
 * scrape of `GET /metrics` shows the whole mesh. Also each route's last window (rate, p50, p99) for the live page.
 *
 * `requestStarted`/`requestEnded` run for every request: plain counts per route (route-stats.ts), found by one Map
 * lookup each; the window and the histogram are read from the same fine buckets. Everything else is done when
 * asked (a scrape, the live page's second).
 */
import { OTHER_ROUTE } from "../gateway/app.ts";
import type { Mesh } from "../mesh/mesh.ts";
import { currentSecond } from "./clock.ts";
import { family, type MetricFamily, pushHistogram } from "./families.ts";
import { gatherReports } from "./gather.ts";
import { bucketIndex, percentileMs } from "./latency-buckets.ts";
import { FamilyMerger } from "./merge.ts";
import { NodeSelf } from "./node-report.ts";
import { renderFamilies } from "./render.ts";
import type { NodeReport, RouteWindow } from "./report.ts";
import { LatencyCounts, SecondsRing, WINDOW_SECONDS } from "./route-stats.ts";

/** What the gateway's metrics read of the mesh: each instance's status, and each Pilcrow instance's report. */
export type ObservedMesh = Pick<Mesh, "status" | "askEach">;

/**
 * Routes counted by name at most: only routes some service serves get here (the rest are `other`), but a mesh's
 * services pick their routes; past this many, new ones count as `other` too, so a scrape stays bounded.
 */
export const MAX_ROUTES = 1000;

/** Statuses counted one by one: 100 to 599; any other (none is expected) under status `0`. */
const STATUS_SLOTS = 600;

class GatewayRoute {
  inFlight = 0;
  readonly totals = new LatencyCounts();
  readonly statuses = new Float64Array(STATUS_SLOTS);
  readonly window: SecondsRing;

  constructor(readonly route: string, second: number) {
    this.window = new SecondsRing(second);
  }
}

export class GatewayMetrics {
  readonly #routes = new Map<string, GatewayRoute>();
  readonly #self = new NodeSelf("gate");
  readonly #startedSecond = currentSecond();

  /** A request for `route` (`GET/goods`, or `other` when no service serves it) came in. */
  requestStarted(route: string): void {
    (this.#routes.get(route) ?? this.#add(route)).inFlight++;
  }

  /** It was answered with `status` after `ms`. */
  requestEnded(route: string, status: number, ms: number): void {
    // No clock is read here (clock.ts): the second is a variable a timer keeps.
    const stats = this.#routes.get(route) ?? this.#add(route);
    const bucket = bucketIndex(ms);
    const failed = status >= 400;
    stats.inFlight--;
    stats.totals.record(bucket, ms, failed);
    stats.statuses[status >= 100 && status < STATUS_SLOTS ? status : 0]++;
    stats.window.record(currentSecond(), bucket, failed);
  }

  /** Each route over the last window, for the live page. */
  windows(): RouteWindow[] {
    const second = currentSecond();
    // Right after the start the window holds fewer complete seconds than it spans: the rate divides by those.
    const seconds = Math.min(WINDOW_SECONDS, second - this.#startedSecond);
    return [...this.#routes.values()].sort((a, b) => a.route < b.route ? -1 : 1).map((stats) => {
      const window = stats.window.summary(second);
      return {
        route: stats.route,
        requestsPerSecond: seconds > 0 ? window.count / seconds : 0,
        p50Ms: percentileMs(window.buckets, 0.5),
        p99Ms: percentileMs(window.buckets, 0.99),
        errors: window.errors,
        inFlight: stats.inFlight,
        requests: stats.totals.count,
      };
    });
  }

  /** The Prometheus text of the whole mesh: the gateway's own metrics and every service's, gathered now. */
  async scrape(mesh: ObservedMesh): Promise<string> {
    const startedAt = performance.now();
    const [gathered, processFamilies] = await Promise.all([gatherReports(mesh), this.#self.processFamilies()]);
    const merger = new FamilyMerger();
    merger.add(this.families());
    merger.add(instanceFamilies(mesh));
    merger.add(processFamilies);
    const up = family("pilcrow_scrape_up", "gauge", "1 when the instance's report came in this scrape, else 0.");
    const rejected = family(
      "pilcrow_scrape_rejected_samples",
      "gauge",
      "Metric families and samples of the instance's report left out of this scrape (malformed, too many, or clashing).",
    );
    for (const { id, name, report, rejectedSamples } of gathered) {
      const labels = { service: name, service_instance: id };
      up.values.push({ value: report ? 1 : 0, labels });
      const clashing = report ? merger.add(report.metrics as unknown as MetricFamily[], labels) : 0;
      rejected.values.push({ value: (rejectedSamples ?? 0) + clashing, labels });
    }
    const took = family("pilcrow_scrape_duration_seconds", "gauge", "How long this scrape took to gather the mesh.");
    took.values.push({ value: (performance.now() - startedAt) / 1000, labels: {} });
    merger.add([up, rejected, took]);
    return renderFamilies(merger.families());
  }

  /** The gateway's own NodeReport (the live page shows it among the nodes). */
  report(): Promise<NodeReport> {
    return this.#self.report(this.families());
  }

  /** The gateway's request metrics, as prom-client's JSON. */
  families(): MetricFamily[] {
    const requests = family(
      "pilcrow_gateway_requests_total",
      "counter",
      "HTTP requests answered, by route and status.",
    );
    const latency = family(
      "pilcrow_gateway_request_duration_seconds",
      "histogram",
      "Time from an HTTP request's arrival at the gateway to its answer, by route.",
    );
    const inFlight = family("pilcrow_gateway_requests_in_flight", "gauge", "HTTP requests being answered, by route.");
    for (const stats of this.#routes.values()) {
      const labels = { route: stats.route };
      stats.statuses.forEach((count, status) => {
        if (count > 0) requests.values.push({ value: count, labels: { route: stats.route, status: String(status) } });
      });
      pushHistogram(latency, labels, stats.totals);
      inFlight.values.push({ value: stats.inFlight, labels });
    }
    return [requests, latency, inFlight];
  }

  #add(route: string): GatewayRoute {
    if (this.#routes.size >= MAX_ROUTES && route !== OTHER_ROUTE) {
      return this.#routes.get(OTHER_ROUTE) ?? this.#add(OTHER_ROUTE);
    }
    const stats = new GatewayRoute(route, currentSecond());
    this.#routes.set(route, stats);
    return stats;
  }
}

/** Per instance the gateway knows: what it sent it and how that went, and whether it is ready; per service, counts. */
function instanceFamilies(mesh: Pick<Mesh, "status">): MetricFamily[] {
  const requests = family("pilcrow_instance_requests_total", "counter", "Requests the gateway sent the instance.");
  const errors = family(
    "pilcrow_instance_errors_total",
    "counter",
    "Requests the instance answered with errorcode 1, or that were lost on the way.",
  );
  const timeouts = family("pilcrow_instance_timeouts_total", "counter", "Requests to the instance that timed out.");
  const inFlight = family("pilcrow_instance_in_flight", "gauge", "Requests to the instance awaiting their answer.");
  const ready = family(
    "pilcrow_instance_ready",
    "gauge",
    "1 when the instance is routed to (connected, answering), else 0; the health label says why not.",
  );
  const known = family("pilcrow_instances_known", "gauge", "Instances of the service the gateway knows.");
  const readyCount = family("pilcrow_instances_ready", "gauge", "Instances of the service the gateway routes to.");
  const perService = new Map<string, { known: number; ready: number }>();
  for (const instance of mesh.status().instances) {
    const labels = { service: instance.name, service_instance: instance.id };
    requests.values.push({ value: instance.requests, labels });
    errors.values.push({ value: instance.errors, labels });
    timeouts.values.push({ value: instance.timeouts, labels });
    inFlight.values.push({ value: instance.inFlight, labels });
    ready.values.push({ value: instance.ready ? 1 : 0, labels: { ...labels, health: instance.health } });
    const counts = perService.get(instance.name) ?? { known: 0, ready: 0 };
    counts.known++;
    if (instance.ready) counts.ready++;
    perService.set(instance.name, counts);
  }
  for (const [service, counts] of perService) {
    known.values.push({ value: counts.known, labels: { service } });
    readyCount.values.push({ value: counts.ready, labels: { service } });
  }
  return [requests, errors, timeouts, inFlight, ready, known, readyCount];
}
