/**
 * The gateway's metrics: requests by route and status, latency by route, in flight, per-instance counts and
 * instances known and ready (from the mesh's status), and — gathered over the mesh — every service's own; one
 * scrape of `GET /metrics` shows the whole mesh. Also each route's last window (rate, p50, p99) for the live page.
 *
 * STUB: the lead wired it; the metrics helper fills it in (same API).
 */
import type { Mesh } from "../mesh/mesh.ts";
import type { NodeReport, RouteWindow } from "./report.ts";

/** What the gateway's metrics read of the mesh: each instance's status, and each Pilcrow instance's report. */
export type ObservedMesh = Pick<Mesh, "status" | "askEach">;

export class GatewayMetrics {
  /** A request for `route` (`GET/goods`, or `other` when no service serves it) came in. */
  requestStarted(_route: string): void {}

  /** It was answered with `status` after `ms`. */
  requestEnded(_route: string, _status: number, _ms: number): void {}

  /** Each route over the last window, for the live page. */
  windows(): RouteWindow[] {
    return [];
  }

  /** The Prometheus text of the whole mesh: the gateway's own metrics and every service's, gathered now. */
  scrape(_mesh: ObservedMesh): Promise<string> {
    return Promise.resolve("");
  }

  /** The gateway's own NodeReport (the live page shows it among the nodes). */
  report(): Promise<NodeReport> {
    return Promise.resolve({
      name: "gate",
      runtime: "node",
      version: "",
      pid: 0,
      uptimeSeconds: 0,
      memory: { rssBytes: 0, heapUsedBytes: 0 },
      metrics: [],
    });
  }
}
