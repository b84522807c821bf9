/**
 * A service's handler metrics — per route: requests, errors, latency — labelled with the service and this
 * instance, and its NodeReport, which the gateway gathers over the mesh (`GET /_pilcrow/node`).
 *
 * STUB: the lead wired it; the metrics helper fills it in (same API).
 */
import type { NodeReport } from "./report.ts";

export class ServiceMetrics {
  /** The instance label is the gateway's to add when it gathers (it knows the instance by its id in the pool). */
  constructor(readonly service: string) {}

  /** One request answered by the route's handler (`GET/goods`), in `ms`; `failed`: it answered errorcode 1. */
  handled(_route: string, _ms: number, _failed: boolean): void {}

  report(): Promise<NodeReport> {
    return Promise.resolve({
      name: this.service,
      runtime: "node",
      version: "",
      pid: 0,
      uptimeSeconds: 0,
      memory: { rssBytes: 0, heapUsedBytes: 0 },
      metrics: [],
    });
  }
}
