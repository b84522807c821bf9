/**
 * Metric families in the shape prom-client's `getMetricsAsJSON` gives (and a NodeReport carries over the mesh),
 * with the helpers that build Pilcrow's own from plain counts. prom-client's typings call `type` an enum; at run
 * time it is the text Prometheus prints (`counter`), as here.
 */
import { PROMETHEUS_BOUND_INDEXES, PROMETHEUS_BOUNDS_SECONDS } from "./latency-buckets.ts";
import type { NodeReport } from "./report.ts";

export type MetricKind = "counter" | "gauge" | "histogram" | "summary" | "untyped";

export type Labels = Record<string, string>;

export interface Sample {
  value: number;
  labels: Labels;
  /** A histogram's or summary's line (`x_bucket`, `x_sum`, `x_count`); the family's name otherwise. */
  metricName?: string;
}

export interface MetricFamily {
  name: string;
  help: string;
  type: MetricKind;
  values: Sample[];
}

/** A NodeReport's metrics are prom-client's JSON: the same objects, under prom-client's (enum-typed) name. */
export function asReportMetrics(families: MetricFamily[]): NodeReport["metrics"] {
  return families as unknown as NodeReport["metrics"];
}

export function family(name: string, type: MetricKind, help: string, values: Sample[] = []): MetricFamily {
  return { name, help, type, values };
}

/** What a latency histogram is read from: fine bucket counts (latency-buckets.ts), their number and sum. */
export interface LatencyTotals {
  readonly buckets: ArrayLike<number>;
  readonly count: number;
  readonly sumMs: number;
}

/** Adds one series of a seconds histogram, its buckets summed from the fine ones at Prometheus's bounds. */
export function pushHistogram(into: MetricFamily, labels: Labels, totals: LatencyTotals): void {
  let cumulative = 0;
  let fine = 0;
  PROMETHEUS_BOUND_INDEXES.forEach((boundIndex, index) => {
    for (; fine <= boundIndex; fine++) cumulative += totals.buckets[fine];
    into.values.push({
      value: cumulative,
      labels: { ...labels, le: String(PROMETHEUS_BOUNDS_SECONDS[index]) },
      metricName: `${into.name}_bucket`,
    });
  });
  into.values.push({ value: totals.count, labels: { ...labels, le: "+Inf" }, metricName: `${into.name}_bucket` });
  into.values.push({ value: totals.sumMs / 1000, labels, metricName: `${into.name}_sum` });
  into.values.push({ value: totals.count, labels, metricName: `${into.name}_count` });
}
