/**
 * Prometheus's text format (version 0.0.4) of metric families: one writer for the gateway's own metrics and for
 * those gathered from the services, so one family never appears twice (a second `# TYPE` line for a name makes
 * Prometheus reject the whole scrape). Everything written is escaped here; what comes from a service has been
 * checked before (sanitize.ts).
 */
import type { Labels, MetricFamily } from "./families.ts";

export function renderFamilies(families: Iterable<MetricFamily>): string {
  const lines: string[] = [];
  for (const { name, help, type, values } of families) {
    lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`);
    for (const sample of values) {
      lines.push(`${sample.metricName ?? name}${renderLabels(sample.labels)} ${renderValue(sample.value)}`);
    }
  }
  return lines.length === 0 ? "" : lines.join("\n") + "\n";
}

function renderLabels(labels: Labels): string {
  let text = "";
  for (const name in labels) text += `${text === "" ? "" : ","}${name}="${escapeLabelValue(String(labels[name]))}"`;
  return text === "" ? "" : `{${text}}`;
}

function renderValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

/** In a label value: backslash, double quote and line feed are escaped (the format's rule). */
export function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (character) => character === "\n" ? "\\n" : `\\${character}`);
}

/** In help text: backslash and line feed. */
function escapeHelp(help: string): string {
  return help.replace(/[\\\n]/g, (character) => character === "\n" ? "\\n" : "\\\\");
}
