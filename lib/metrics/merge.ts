/**
 * One scrape's families from many nodes, merged by name, each node's samples labelled with what tells them apart
 * (`service`, `service_instance`): a family appears once, with one type. A family whose type, or whose lines
 * (`x_bucket`, `x_sum`…), clash with one already there is left out and counted: two `# TYPE` lines for one name,
 * or one series written twice, make Prometheus refuse the whole scrape.
 */
import type { Labels, MetricFamily, MetricKind } from "./families.ts";

const LINE_SUFFIXES: Record<MetricKind, string[]> = {
  counter: [""],
  gauge: [""],
  untyped: [""],
  histogram: ["_bucket", "_sum", "_count"],
  summary: ["", "_sum", "_count"],
};

export class FamilyMerger {
  readonly #families = new Map<string, MetricFamily>();
  /** Every line name written, and the family it belongs to. */
  readonly #lines = new Map<string, string>();

  /** Adds `families`, every sample labelled with `labels` first; returns how many samples were left out. */
  add(families: Iterable<MetricFamily>, labels: Labels = {}): number {
    let rejected = 0;
    for (const given of families) {
      const merged = this.#familyFor(given);
      if (!merged) {
        rejected += given.values.length;
        continue;
      }
      for (const sample of given.values) {
        merged.values.push({ ...sample, labels: { ...labels, ...sample.labels } });
      }
    }
    return rejected;
  }

  families(): MetricFamily[] {
    return [...this.#families.values()];
  }

  #familyFor(given: MetricFamily): MetricFamily | undefined {
    const known = this.#families.get(given.name);
    if (known) return known.type === given.type ? known : undefined;
    const lines = LINE_SUFFIXES[given.type].map((suffix) => given.name + suffix);
    if (lines.some((line) => this.#lines.has(line)) || this.#lines.has(given.name)) return undefined;
    for (const line of lines) this.#lines.set(line, given.name);
    this.#lines.set(given.name, given.name);
    const created: MetricFamily = { name: given.name, help: given.help, type: given.type, values: [] };
    this.#families.set(given.name, created);
    return created;
  }
}
