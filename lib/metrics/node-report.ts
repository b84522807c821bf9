/**
 * What a node says of itself (NodeReport): its runtime, version, pid, uptime and memory, and its process metrics
 * (process-metrics.ts) on a registry of its own (several nodes live in one test process), labelled with the node's
 * service name. They start on the first report: a mesh nobody scrapes pays nothing for them.
 */
import process from "node:process";
import { Gauge, Registry } from "prom-client";
import { runtimeName } from "../runtime/detect.ts";
import { asReportMetrics, type MetricFamily } from "./families.ts";
import { startProcessMetrics } from "./process-metrics.ts";
import type { NodeReport } from "./report.ts";

/** The runtime's own version: Bun and Deno give the Node version they stand in for as `process.version`. */
export const runtimeVersion: string = process.versions[runtimeName] ?? process.version;

export class NodeSelf {
  #registry?: Registry;

  constructor(readonly name: string) {}

  /** The report, with the node's own `families` before its process metrics. */
  async report(families: MetricFamily[]): Promise<NodeReport> {
    const memory = process.memoryUsage();
    return {
      name: this.name,
      runtime: runtimeName,
      version: runtimeVersion,
      pid: process.pid,
      uptimeSeconds: process.uptime(),
      memory: { rssBytes: memory.rss, heapUsedBytes: memory.heapUsed },
      metrics: asReportMetrics([...families, ...await this.processFamilies()]),
    };
  }

  /** The process metrics (and `pilcrow_node_info`), started on the first call. */
  async processFamilies(): Promise<MetricFamily[]> {
    this.#registry ??= this.#start();
    // prom-client's JSON is MetricFamily's shape; its typings say `type` is an enum, at run time it is text.
    return (await this.#registry.getMetricsAsJSON()) as unknown as MetricFamily[];
  }

  #start(): Registry {
    const registry = new Registry();
    registry.setDefaultLabels({ service: this.name });
    startProcessMetrics(registry);
    new Gauge({
      name: "pilcrow_node_info",
      help: "Always 1: the node's runtime and its version, as labels.",
      labelNames: ["runtime", "version"],
      registers: [registry],
    }).set({ runtime: runtimeName, version: runtimeVersion }, 1);
    return registry;
  }
}
