#!/usr/bin/env node
/**
 * The `pilcrow` command: `pilcrow up` (the launcher), `pilcrow distributor`, `pilcrow gate`, `pilcrow goods`,
 * `pilcrow members`, `pilcrow purchases`, `pilcrow client`, `pilcrow --help`, `pilcrow --version`.
 *
 * Each subcommand is its own entry file, imported only when asked for: a gateway never loads the launcher, nor a
 * service the gateway. Their paths are computed from this file's URL with this file's own extension, so the same
 * code runs from source (tsx, bun, deno on bin/pilcrow.ts, next to services/*.ts) and built (node on
 * dist/bin/pilcrow.js, next to dist/services/*.js): tsc rewrites import specifiers, not URL strings.
 */
import process from "node:process";
import { commandHelp, COMMANDS, isCommand, readVersion } from "../lib/cli/commands.ts";

const [first] = process.argv.slice(2);

if (first === undefined || first === "--help" || first === "-h" || first === "help") {
  process.stdout.write(commandHelp());
} else if (first === "--version" || first === "-v") {
  process.stdout.write(`pilcrow ${readVersion(import.meta.url)}\n`);
} else if (!isCommand(first)) {
  process.stderr.write(`pilcrow: unknown command ${first}\nRun pilcrow --help for the commands.\n`);
  process.exitCode = 2;
} else {
  // The subcommand's entry file reads its options from process.argv.slice(2), as when it is run directly.
  process.argv.splice(2, 1);
  const extension = new URL(import.meta.url).pathname.endsWith(".ts") ? ".ts" : ".js";
  await import(new URL(`../${COMMANDS[first].file}${extension}`, import.meta.url).href);
}
