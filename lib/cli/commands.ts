/** The `pilcrow` command's subcommands, its help and its version: what bin/pilcrow.ts needs, and nothing else. */
import { existsSync, readFileSync } from "node:fs";

interface Command {
  /** The entry file, from the package root (source) or dist/ (built), without its extension. */
  file: string;
  summary: string;
}

export const COMMANDS = {
  up: { file: "services/up", summary: "the launcher: the distributor, the gateway and the services, supervised" },
  distributor: { file: "services/distributor", summary: "the registry every node registers with (port 9000)" },
  gate: { file: "services/gate", summary: "the HTTP gateway (port 8000)" },
  goods: { file: "services/goods", summary: "the goods service (port 9010)" },
  members: { file: "services/members", summary: "the members service (port 9020)" },
  purchases: { file: "services/purchases", summary: "the purchases service (port 9030)" },
  logs: { file: "services/logs", summary: "the logs service: every node's lines, to one rotating file (port 9040)" },
  client: { file: "lib/cli/api-client", summary: "the book's API client, run against a gateway" },
} satisfies Record<string, Command>;

export type CommandName = keyof typeof COMMANDS;

export function isCommand(name: string): name is CommandName {
  return Object.hasOwn(COMMANDS, name);
}

export function commandHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length));
  const lines = Object.entries(COMMANDS).map(([name, { summary }]) => `  ${name.padEnd(width)}  ${summary}`);
  return [
    "usage: pilcrow COMMAND [options]",
    "",
    "commands:",
    ...lines,
    "",
    "pilcrow COMMAND --help lists a command's options; pilcrow --version prints the version.",
    "",
  ].join("\n");
}

/**
 * The version in the package's own package.json, read when asked: it is two levels up from dist/bin/pilcrow.js
 * and one from bin/pilcrow.ts, so the nearest package.json named pilcrow above the command is the one.
 */
export function readVersion(commandUrl: string): string {
  for (let directory = new URL(".", commandUrl); directory.pathname !== "/"; directory = new URL("..", directory)) {
    const file = new URL("package.json", directory);
    if (!existsSync(file)) continue;
    const manifest = JSON.parse(readFileSync(file, "utf8"));
    if (manifest.name === "pilcrow") return manifest.version;
  }
  return "unknown";
}
