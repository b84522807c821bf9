/**
 * A service's handler metrics — per route: requests, errors, latency — labelled with the service (the gateway adds
 * the instance when it gathers: it knows the instance by its id in the pool), and its NodeReport, which the gateway
 * gathers over the mesh (`GET /_pilcrow/node`). `handled` runs for every request: plain counts (route-stats.ts),
 * one Map lookup per request.
 */
import { family, type MetricFamily, pushHistogram } from "./families.ts";
import { bucketIndex } from "./latency-buckets.ts";
import { NodeSelf } from "./node-report.ts";
import type { NodeReport } from "./report.ts";
import { LatencyCounts } from "./route-stats.ts";

export class ServiceMetrics {
  readonly #routes = new Map<string, LatencyCounts>();
  readonly #self: NodeSelf;

  /** The instance label is the gateway's to add when it gathers (it knows the instance by its id in the pool). */
  constructor(readonly service: string) {
    this.#self = new NodeSelf(service);
  }

  /** One request answered by the route's handler (`GET/goods`), in `ms`; `failed`: it answered errorcode 1. */
  handled(route: string, ms: number, failed: boolean): void {
    let counts = this.#routes.get(route);
    if (counts === undefined) this.#routes.set(route, counts = new LatencyCounts());
    counts.record(bucketIndex(ms), ms, failed);
  }

  report(): Promise<NodeReport> {
    return this.#self.report(this.families());
  }

  /** The handler metrics, as prom-client's JSON. */
  families(): MetricFamily[] {
    const requests = family("pilcrow_handler_requests_total", "counter", "Requests a handler answered, by route.");
    const errors = family(
      "pilcrow_handler_errors_total",
      "counter",
      "Requests a handler answered with errorcode 1 (or failed), by route.",
    );
    const latency = family(
      "pilcrow_handler_duration_seconds",
      "histogram",
      "Time from a request's arrival at the service to its answer, by route.",
    );
    for (const [route, counts] of this.#routes) {
      const labels = { service: this.service, route };
      requests.values.push({ value: counts.count, labels });
      errors.values.push({ value: counts.errors, labels });
      pushHistogram(latency, labels, counts);
    }
    return [requests, errors, latency];
  }
}
