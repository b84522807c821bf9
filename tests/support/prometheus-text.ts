/**
 * A strict reader of Prometheus's text format (0.0.4), for the metrics tests: every line is a `# HELP`/`# TYPE`
 * comment or `name{labels} value`, label values properly quoted and escaped, one TYPE per family. It throws on the
 * first line that is not, naming it.
 */

export interface ParsedSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface ParsedText {
  samples: ParsedSample[];
  types: Map<string, string>;
}

const NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*";
const SAMPLE = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)$`);
const LABEL = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/;
const COMMENT = new RegExp(`^# (HELP|TYPE) (${NAME})(?: (.*))?$`);

export function parsePrometheusText(text: string): ParsedText {
  if (text !== "" && !text.endsWith("\n")) throw new Error("the text must end with a line feed");
  const samples: ParsedSample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split("\n").slice(0, -1)) {
    const comment = COMMENT.exec(line);
    if (comment) {
      if (comment[1] === "TYPE") {
        if (types.has(comment[2])) throw new Error(`a second TYPE for ${comment[2]}`);
        if (!/^(counter|gauge|histogram|summary|untyped)$/.test(comment[3] ?? "")) throw new Error(`bad TYPE: ${line}`);
        types.set(comment[2], comment[3]!);
      }
      continue;
    }
    const sample = SAMPLE.exec(line);
    if (!sample) throw new Error(`not a sample: ${JSON.stringify(line)}`);
    const value = Number(sample[3].replace(/^\+Inf$/, "Infinity").replace(/^-Inf$/, "-Infinity"));
    if (Number.isNaN(value) && sample[3] !== "NaN") throw new Error(`bad value: ${JSON.stringify(line)}`);
    samples.push({ name: sample[1], labels: parseLabels(sample[2] ?? "", line), value });
  }
  return { samples, types };
}

function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let rest = text;
  while (rest !== "") {
    const label = LABEL.exec(rest);
    if (!label) throw new Error(`bad labels: ${JSON.stringify(line)}`);
    if (label[1] in labels) throw new Error(`label ${label[1]} twice: ${JSON.stringify(line)}`);
    labels[label[1]] = label[2].replace(/\\(.)/g, (_, escaped: string) => escaped === "n" ? "\n" : escaped);
    rest = rest.slice(label[0].length);
    if (label[3] === "" && rest !== "") throw new Error(`bad labels: ${JSON.stringify(line)}`);
  }
  return labels;
}

/** The samples named `name` whose labels include `labels`. */
export function samplesOf(
  parsed: ParsedText,
  name: string,
  labels: Record<string, string> = {},
): ParsedSample[] {
  return parsed.samples.filter((sample) =>
    sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value)
  );
}

/** The one sample's value, or undefined when there is none (an error when there are several). */
export function valueOf(parsed: ParsedText, name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samplesOf(parsed, name, labels);
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} ${JSON.stringify(labels)}`);
  return found[0]?.value;
}
