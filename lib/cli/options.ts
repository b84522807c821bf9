/**
 * Options as one table per command — name, value, environment variable, default, meaning — from which both the
 * node:util parseArgs configuration and the command's `--help` text are made, so the two cannot disagree.
 */
import type { ParseArgsConfig } from "node:util";

export type ParseArgsOptions = NonNullable<ParseArgsConfig["options"]>;

export interface OptionSpec {
  name: string;
  /** The value's placeholder in the help (`MS`, `HOST:PORT`); none for a flag. */
  value?: string;
  short?: string;
  multiple?: boolean;
  /** The environment variable read when the option is not given. */
  env?: string;
  default?: string;
  description: string;
}

export type OptionTable = readonly OptionSpec[];

export function parseArgsOptions(table: OptionTable): ParseArgsOptions {
  return Object.fromEntries(
    table.map((spec) => [spec.name, {
      type: spec.value === undefined ? "boolean" : "string",
      ...(spec.short === undefined ? {} : { short: spec.short }),
      ...(spec.multiple ? { multiple: true } : {}),
    }]),
  ) as ParseArgsOptions;
}

/** A service's own flags, given as parseArgs options (ServiceDefinition.flags), as table entries. */
export function tableOf(options: ParseArgsOptions): OptionSpec[] {
  return Object.entries(options).map(([name, option]) => ({
    name,
    value: option.type === "string" ? "VALUE" : undefined,
    short: option.short,
    multiple: option.multiple,
    description: "",
  }));
}

export function wantsHelp(args: readonly string[]): boolean {
  return args.includes("--help") || args.includes("-h");
}

export function helpText(usage: string, table: OptionTable): string {
  const left = (spec: OptionSpec) =>
    `${spec.short === undefined ? "    " : `-${spec.short}, `}--${spec.name}${spec.value ? ` ${spec.value}` : ""}`;
  const rows = [...table, { name: "help", short: "h", description: "print this help" }];
  const width = Math.max(...rows.map((spec) => left(spec).length));
  const lines = rows.map((spec) => {
    const notes = [spec.env && `env ${spec.env}`, spec.default && `default ${spec.default}`].filter(Boolean);
    return `  ${left(spec).padEnd(width)}  ${spec.description}${notes.length ? ` (${notes.join("; ")})` : ""}`;
  });
  return `usage: ${usage}\n\noptions:\n${lines.join("\n")}\n`;
}
