/**
 * What the gateway takes from a service's report: its metric families, checked one by one, so that a broken or
 * hostile service cannot break the scrape, inject lines or claim another's series. Names must be Prometheus names,
 * values numbers, label names Prometheus label names; label values and help are bounded in size (and escaped when
 * written); the families and samples of one report are bounded in number; the gateway's own names are refused; the
 * `service` and `service_instance` labels are the gateway's to set. What is refused is counted, never passed on.
 */
import type { Labels, MetricFamily, MetricKind, Sample } from "./families.ts";

export const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
export const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export const REPORT_LIMITS = {
  families: 256,
  samples: 8192,
  nameLength: 200,
  helpLength: 500,
  labelsPerSample: 16,
  labelValueLength: 256,
};

/** Names only the gateway writes: a service sending them would forge what the gateway says of it. */
export const GATEWAY_PREFIXES = ["pilcrow_gateway_", "pilcrow_instance", "pilcrow_scrape_"];

/** Labels the gateway sets on every gathered sample. */
export const GATHERED_LABELS = ["service", "service_instance"];

const KINDS: ReadonlySet<string> = new Set<MetricKind>(["counter", "gauge", "histogram", "summary", "untyped"]);
const SUFFIXES: Record<MetricKind, string[]> = {
  counter: [""],
  gauge: [""],
  untyped: [""],
  histogram: ["_bucket", "_sum", "_count"],
  summary: ["", "_sum", "_count"],
};

export interface Sanitized {
  families: MetricFamily[];
  /** Families and samples left out. */
  rejected: number;
}

export function sanitizeFamilies(input: unknown): Sanitized {
  if (!Array.isArray(input)) return { families: [], rejected: 1 };
  const families: MetricFamily[] = [];
  const seen = new Set<string>();
  let rejected = 0;
  let samples = 0;
  for (const candidate of input) {
    const checked = families.length < REPORT_LIMITS.families ? familyHead(candidate) : undefined;
    if (!checked || seen.has(checked.name)) {
      rejected++;
      continue;
    }
    seen.add(checked.name);
    const values = (candidate as { values?: unknown }).values;
    for (const value of Array.isArray(values) ? values : []) {
      const sample = samples < REPORT_LIMITS.samples ? checkSample(value, checked) : undefined;
      if (sample) {
        checked.values.push(sample);
        samples++;
      } else rejected++;
    }
    families.push(checked);
  }
  return { families, rejected };
}

function familyHead(candidate: unknown): MetricFamily | undefined {
  if (typeof candidate !== "object" || candidate === null) return undefined;
  const { name, help, type } = candidate as Record<string, unknown>;
  if (typeof name !== "string" || name.length > REPORT_LIMITS.nameLength || !METRIC_NAME.test(name)) return undefined;
  if (GATEWAY_PREFIXES.some((prefix) => name.startsWith(prefix))) return undefined;
  if (typeof type !== "string" || !KINDS.has(type)) return undefined;
  const text = typeof help === "string" ? help.slice(0, REPORT_LIMITS.helpLength) : "";
  return { name, help: text, type: type as MetricKind, values: [] };
}

function checkSample(candidate: unknown, family: MetricFamily): Sample | undefined {
  if (typeof candidate !== "object" || candidate === null) return undefined;
  const { value: given, labels, metricName } = candidate as Record<string, unknown>;
  // JSON has no NaN: a gauge with nothing to say yet (an event loop's mean lag before its first sample) comes as null.
  const value = given === null ? NaN : given;
  if (typeof value !== "number") return undefined;
  const line = metricName === undefined ? family.name : metricName;
  if (typeof line !== "string" || !SUFFIXES[family.type].some((suffix) => line === family.name + suffix)) {
    return undefined;
  }
  const checked = checkLabels(labels);
  if (!checked) return undefined;
  return line === family.name ? { value, labels: checked } : { value, labels: checked, metricName: line };
}

/**
 * A sample's labels, or undefined to refuse the sample: a cut value could make two series one, so a value too
 * long refuses its sample rather than being cut.
 */
function checkLabels(labels: unknown): Labels | undefined {
  if (labels === undefined || labels === null) return {};
  if (typeof labels !== "object" || Array.isArray(labels)) return undefined;
  const entries = Object.entries(labels);
  if (entries.length > REPORT_LIMITS.labelsPerSample) return undefined;
  const checked: Labels = {};
  for (const [name, value] of entries) {
    if (!LABEL_NAME.test(name) || name.startsWith("__")) return undefined;
    if (typeof value !== "string" && typeof value !== "number") return undefined;
    const text = String(value);
    if (text.length > REPORT_LIMITS.labelValueLength) return undefined;
    if (!GATHERED_LABELS.includes(name)) checked[name] = text;
  }
  return checked;
}
