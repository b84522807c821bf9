/** What the figures were measured on: the machine, how busy it was, the code, and the version of each runtime. */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { cpus, release, totalmem } from "node:os";
import { runtimeCommand, type RuntimeName } from "../../lib/runtime/mod.ts";

export interface Machine {
  cores: number;
  cpuModel: string;
  memoryGiB: number;
  kernel: string;
  /** Share of all cores busy over one second just before the run, when nothing of the benchmark was running. */
  busyBefore: number;
  /** The commit measured, and whether the working tree differed from it. */
  code: string;
  runtimes: Record<RuntimeName, string>;
}

function version(runtime: RuntimeName): string {
  // The runtime's binary is the first word of the command that runs a file on it.
  const [binary] = runtimeCommand(runtime, "");
  const output = execFileSync(binary, ["--version"], { encoding: "utf8", timeout: 10_000 });
  const number = /\d+\.\d+\.\d+\S*/.exec(output)?.[0] ?? output.trim();
  if (runtime !== "node") return number;
  const tsx = createRequire(import.meta.url)("tsx/package.json") as { version: string };
  return `${number} (TypeScript through tsx ${tsx.version})`;
}

/** Busy and total jiffies of all cores so far, from the first line of /proc/stat. */
function cpuTimes(): { busy: number; total: number } {
  const [, ...fields] = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).map(Number);
  const total = fields.slice(0, 8).reduce((sum, value) => sum + value, 0);
  // idle and iowait are the 4th and 5th fields.
  return { busy: total - fields[3] - fields[4], total };
}

async function busyShare(ms: number): Promise<number> {
  const before = cpuTimes();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const after = cpuTimes();
  return (after.busy - before.busy) / Math.max(1, after.total - before.total);
}

function git(...args: string[]): string {
  return execFileSync("git", args, { encoding: "utf8", timeout: 10_000 }).trimEnd();
}

function codeVersion(): string {
  try {
    const changed = git("status", "--porcelain", "--untracked-files=no").split("\n").filter(Boolean);
    const files = changed.map((line) => line.slice(3));
    return git("rev-parse", "--short", "HEAD")
      + (files.length ? `, with uncommitted changes to ${files.join(", ")}` : "");
  } catch {
    return "not a git checkout";
  }
}

export async function describeMachine(): Promise<Machine> {
  const processors = cpus();
  return {
    cores: processors.length,
    cpuModel: processors[0]?.model.trim() ?? "unknown",
    memoryGiB: totalmem() / 2 ** 30,
    kernel: `Linux ${release()}`,
    busyBefore: await busyShare(1000),
    code: codeVersion(),
    runtimes: { node: version("node"), bun: version("bun"), deno: version("deno") },
  };
}
