/**
 * The metrics' parts on their own: the buckets and percentiles, the per-second window, the gateway's counts and
 * windows, the Prometheus text they make, and what the gateway does with a hostile service's report (bad names,
 * huge label values, newlines, forged lines, too many samples): left out and counted, never written raw.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { MetricFamily } from "../lib/metrics/families.ts";
import { GatewayMetrics } from "../lib/metrics/gateway-metrics.ts";
import {
  BUCKET_COUNT,
  bucketIndex,
  FINE_BOUNDS_MS,
  percentileMs,
  PROMETHEUS_BOUNDS_SECONDS,
} from "../lib/metrics/latency-buckets.ts";
import { FamilyMerger } from "../lib/metrics/merge.ts";
import { renderFamilies } from "../lib/metrics/render.ts";
import { SecondsRing } from "../lib/metrics/route-stats.ts";
import { REPORT_LIMITS, sanitizeFamilies } from "../lib/metrics/sanitize.ts";
import { ServiceMetrics } from "../lib/metrics/service-metrics.ts";
import { runtimeName } from "../lib/runtime/detect.ts";
import { eventually } from "./support/processes.ts";
import { parsePrometheusText, valueOf } from "./support/prometheus-text.ts";

describe("latency buckets", () => {
  it("hold every Prometheus bound exactly, inclusive, and interpolate percentiles inside a bucket", () => {
    for (const seconds of PROMETHEUS_BOUNDS_SECONDS) {
      const index = FINE_BOUNDS_MS.indexOf(seconds * 1000);
      assert.ok(index >= 0, `${seconds} s is a fine bound`);
      assert.equal(bucketIndex(seconds * 1000), index, "le is inclusive");
      assert.equal(bucketIndex(seconds * 1000 * 1.0001), index + 1);
    }
    assert.equal(bucketIndex(0), 0);
    assert.equal(bucketIndex(60_000), BUCKET_COUNT - 1, "past 10 s: the unbounded bucket");
    const counts = new Float64Array(BUCKET_COUNT);
    assert.equal(percentileMs(counts, 0.5), null);
    for (let index = 0; index < 98; index++) counts[bucketIndex(2)]++;
    counts[bucketIndex(400)] += 2;
    const p50 = percentileMs(counts, 0.5)!;
    const p99 = percentileMs(counts, 0.99)!;
    assert.ok(p50 > 1.7 && p50 <= 2.3, `p50 ${p50}`);
    assert.ok(p99 > 340 && p99 <= 460, `p99 ${p99}`);
  });
});

describe("the per-second window", () => {
  it("sums the ten complete seconds before the current one and forgets older ones", () => {
    const ring = new SecondsRing(100);
    for (let index = 0; index < 5; index++) ring.record(100, bucketIndex(1), false);
    for (let index = 0; index < 3; index++) ring.record(101, bucketIndex(1), true);
    ring.record(102, bucketIndex(1), false);
    const now = ring.summary(102);
    assert.deepEqual([now.count, now.errors], [8, 3], "the current second is not in the window");
    assert.deepEqual([ring.summary(103).count, ring.summary(110).count], [9, 9]);
    assert.deepEqual([ring.summary(111).count, ring.summary(111).errors], [4, 3], "second 100 left the window");
    assert.equal(ring.summary(113).count, 0);
    ring.record(500, bucketIndex(1), false);
    assert.equal(ring.summary(501).count, 1, "after a long quiet, only what came since");
  });
});

describe("GatewayMetrics", () => {
  it("counts by route and status, in flight, and windows with rate, p50, p99 and errors", async () => {
    const metrics = new GatewayMetrics();
    for (let index = 0; index < 3; index++) metrics.requestStarted("GET/goods");
    metrics.requestEnded("GET/goods", 200, 2);
    metrics.requestEnded("GET/goods", 503, 3);
    metrics.requestStarted("other");
    metrics.requestEnded("other", 404, 0.3);
    const first = metrics.windows();
    assert.deepEqual(first.map(({ route, requests, inFlight }) => ({ route, requests, inFlight })), [
      { route: "GET/goods", requests: 2, inFlight: 1 },
      { route: "other", requests: 1, inFlight: 0 },
    ]);
    // Once their second is complete, they are in the window.
    const goods = await eventually(() => {
      const window = metrics.windows().find((route) => route.route === "GET/goods")!;
      return window.p50Ms === null ? undefined : window;
    }, 3000);
    assert.equal(goods.errors, 1);
    assert.ok(goods.requestsPerSecond > 0 && goods.requestsPerSecond <= 2, String(goods.requestsPerSecond));
    assert.ok(goods.p50Ms! >= 1.5 && goods.p50Ms! <= 3, String(goods.p50Ms));
    assert.ok(goods.p99Ms! >= 2.5 && goods.p99Ms! <= 3.2, String(goods.p99Ms)); // within 3 ms's bucket

    const parsed = parsePrometheusText(renderFamilies(metrics.families()));
    assert.equal(valueOf(parsed, "pilcrow_gateway_requests_total", { route: "GET/goods", status: "200" }), 1);
    assert.equal(valueOf(parsed, "pilcrow_gateway_requests_total", { route: "GET/goods", status: "503" }), 1);
    assert.equal(valueOf(parsed, "pilcrow_gateway_requests_total", { route: "other", status: "404" }), 1);
    assert.equal(valueOf(parsed, "pilcrow_gateway_requests_in_flight", { route: "GET/goods" }), 1);
    const bucket = (le: string) =>
      valueOf(parsed, "pilcrow_gateway_request_duration_seconds_bucket", { route: "GET/goods", le });
    assert.deepEqual([bucket("0.001"), bucket("0.0025"), bucket("0.005"), bucket("+Inf")], [0, 1, 2, 2]);
    assert.equal(valueOf(parsed, "pilcrow_gateway_request_duration_seconds_count", { route: "GET/goods" }), 2);
    assert.equal(valueOf(parsed, "pilcrow_gateway_request_duration_seconds_sum", { route: "GET/goods" }), 0.005);
  });

  it("reports the gateway as a node: runtime, version, pid, memory, process metrics labelled gate", async () => {
    const report = await new GatewayMetrics().report();
    assert.equal(report.name, "gate");
    assert.equal(report.runtime, runtimeName);
    assert.match(report.version, /^\d+\.\d+\.\d+/);
    assert.equal(report.pid, process.pid);
    assert.ok(report.memory.rssBytes > 1e6 && report.memory.heapUsedBytes > 1e5, JSON.stringify(report.memory));
    const families = report.metrics as unknown as MetricFamily[];
    const cpu = families.find((family) => family.name === "process_cpu_seconds_total");
    assert.ok(cpu && cpu.values[0].value > 0 && cpu.values[0].labels.service === "gate", JSON.stringify(cpu));
    const rss = families.find((family) => family.name === "process_resident_memory_bytes");
    assert.ok(rss && rss.values[0].value > 1e6, `resident memory on ${runtimeName}: ${JSON.stringify(rss)}`);
    const info = families.find((family) => family.name === "pilcrow_node_info");
    assert.deepEqual(info?.values[0].labels, { runtime: runtimeName, version: report.version, service: "gate" });
    // Every family renders as valid text (none of prom-client's defaults misbehaves on this runtime).
    parsePrometheusText(renderFamilies(families));
  });
});

describe("ServiceMetrics", () => {
  it("counts each route's requests, errors and latency, labelled with the service", async () => {
    const metrics = new ServiceMetrics("goods");
    metrics.handled("GET/goods", 1.5, false);
    metrics.handled("GET/goods", 30, true);
    metrics.handled("POST/goods", 0.2, false);
    const report = await metrics.report();
    assert.equal(report.name, "goods");
    const parsed = parsePrometheusText(renderFamilies(report.metrics as unknown as MetricFamily[]));
    const goods = { service: "goods", route: "GET/goods" };
    assert.equal(valueOf(parsed, "pilcrow_handler_requests_total", goods), 2);
    assert.equal(valueOf(parsed, "pilcrow_handler_errors_total", goods), 1);
    assert.equal(valueOf(parsed, "pilcrow_handler_duration_seconds_bucket", { ...goods, le: "0.025" }), 1);
    assert.equal(valueOf(parsed, "pilcrow_handler_duration_seconds_bucket", { ...goods, le: "0.05" }), 2);
    assert.equal(valueOf(parsed, "pilcrow_handler_requests_total", { route: "POST/goods" }), 1);
  });
});

describe("a hostile service's report", () => {
  const good = (name: string, value = 1, labels: Record<string, unknown> = {}) => ({
    name,
    help: "fine",
    type: "gauge",
    values: [{ value, labels }],
  });
  /** The same, as the gateway's own families are typed (for the merger, which takes checked families only). */
  const gauge = (name: string, value = 1, labels: Record<string, string> = {}): MetricFamily => ({
    name,
    help: "fine",
    type: "gauge",
    values: [{ value, labels }],
  });

  it("keeps what is well formed and leaves out, counted, everything else", () => {
    const huge = "x".repeat(REPORT_LIMITS.labelValueLength + 1);
    const { families, rejected } = sanitizeFamilies([
      good("ok_metric", 5, { route: "a\nb \"quoted\" back\\slash", service: "members", service_instance: "forged" }),
      good("bad name"),
      good("injected\nevil_metric 1"),
      good("pilcrow_gateway_requests_total"),
      good("pilcrow_scrape_up"),
      { name: "wrong_type", help: "", type: "nonsense", values: [] },
      "not an object",
      null,
      good("ok_metric"), // a second family of one name
      good("huge_label", 1, { route: huge }),
      good("bad_label_name", 1, { "bad-label": "x" }),
      good("reserved_label", 1, { __name__: "x" }),
      good("object_label", 1, { route: { nested: true } }),
      { name: "null_value", help: "h", type: "gauge", values: [{ value: null, labels: {} }] }, // NaN, through JSON
      { name: "text_value", help: "h", type: "gauge", values: [{ value: "1", labels: {} }] },
      { name: "forged_line", help: "h", type: "gauge", values: [{ value: 1, labels: {}, metricName: "other_metric" }] },
      {
        name: "a_histogram",
        help: "h\nline",
        type: "histogram",
        values: [{ value: 1, labels: { le: "1" }, metricName: "a_histogram_bucket" }],
      },
      { name: "not_array_values", help: "h", type: "gauge", values: "nope" },
    ]);
    assert.deepEqual(families.map((family) => family.name), [
      "ok_metric",
      "huge_label",
      "bad_label_name",
      "reserved_label",
      "object_label",
      "null_value",
      "text_value",
      "forged_line",
      "a_histogram",
      "not_array_values",
    ]);
    assert.deepEqual(families.map((family) => family.values.length), [1, 0, 0, 0, 0, 1, 0, 0, 1, 0]);
    // The gateway sets service and instance itself: what the service said of them is dropped.
    assert.deepEqual(families[0].values[0].labels, { route: "a\nb \"quoted\" back\\slash" });
    assert.equal(rejected, 8 + 6);
    assert.deepEqual(sanitizeFamilies("not an array"), { families: [], rejected: 1 });
    assert.deepEqual(sanitizeFamilies({ length: 3 }), { families: [], rejected: 1 });

    const merger = new FamilyMerger();
    merger.add(families, { service: "goods", service_instance: "127.0.0.1:1" });
    const text = renderFamilies(merger.families());
    const parsed = parsePrometheusText(text);
    assert.equal(text.split("\n").filter((line) => line.startsWith("evil_metric")).length, 0);
    assert.equal(
      valueOf(parsed, "ok_metric", { service: "goods", service_instance: "127.0.0.1:1" }),
      5,
    );
    assert.equal(
      parsed.samples.find((sample) => sample.name === "ok_metric")!.labels.route,
      "a\nb \"quoted\" back\\slash",
    );
    assert.ok(text.includes("# HELP a_histogram h\\nline\n"), text);
    assert.ok(Number.isNaN(valueOf(parsed, "null_value")), "null is NaN, written NaN");
  });

  it("bounds the families and samples of one report", () => {
    const many = Array.from({ length: REPORT_LIMITS.families + 10 }, (_, index) => good(`family_${index}`));
    assert.equal(sanitizeFamilies(many).families.length, REPORT_LIMITS.families);
    assert.equal(sanitizeFamilies(many).rejected, 10);
    const values = Array.from(
      { length: REPORT_LIMITS.samples + 5 },
      (_, index) => ({ value: index, labels: { n: String(index) } }),
    );
    const big = sanitizeFamilies([{ name: "big", help: "", type: "gauge", values }]);
    assert.deepEqual([big.families[0].values.length, big.rejected], [REPORT_LIMITS.samples, 5]);
  });

  it("cannot clash with a family already written: another type, or a histogram's lines", () => {
    const merger = new FamilyMerger();
    assert.equal(merger.add([{ name: "x", help: "", type: "histogram", values: [] }]), 0);
    assert.equal(merger.add([gauge("x_bucket", 1, { le: "1" })], { service_instance: "a" }), 1);
    assert.equal(merger.add([gauge("x")], { service_instance: "b" }), 1);
    assert.equal(merger.add([{ name: "y", help: "", type: "counter", values: [{ value: 1, labels: {} }] }]), 0);
    assert.equal(merger.add([gauge("y")], { service_instance: "c" }), 1);
    assert.deepEqual(merger.families().map((family) => family.name), ["x", "y"]);
  });
});
