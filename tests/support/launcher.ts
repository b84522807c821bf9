/**
 * The launcher (services/up.ts) and the API client (scripts/api-client.ts) as real processes, and what the
 * launcher's output says: its own lines (`goods started (pid N, …)`) and its children's, relayed as `[name] …`.
 */
import process from "node:process";
import { DENO_LAUNCHER_PERMISSIONS } from "../../lib/runtime/mod.ts";
import { delay, type LogEntry, type RunningProcess, startProcess } from "./processes.ts";

/**
 * The launcher and its children log JSON (startProcess sets PILCROW_LOG=json), so their entries can be read back;
 * `lines` shows them as the human relay would: the launcher's own as their event, a child's as `[name] {json}`.
 * Its services keep their data in `dataDir` (the test removes it), or else in a new directory removed at its exit.
 */
export function startLauncher(args: string[], dataDir?: string): Promise<RunningProcess> {
  return startProcess("up.ts", args, { waitForListen: false, denoPermissions: DENO_LAUNCHER_PERMISSIONS, dataDir });
}

/**
 * The exit code once all the output has been read too (RunningProcess.exited may come before the last lines).
 * Call it before the process can end.
 */
export function closed(running: RunningProcess): Promise<number | null> {
  return new Promise((resolve) => running.child.once("close", (code: number | null) => resolve(code)));
}

/** Runs the API client against the gateway on `port`, to its end. */
export async function runApiClient(port: number): Promise<{ code: number | null; output: string[] }> {
  const client = await startProcess("scripts/api-client.ts", ["--port", String(port)], { waitForListen: false });
  const code = await closed(client);
  return { code, output: client.output };
}

/** The launcher's output, one entry per line, as the human relay would print it (see startLauncher). */
export function lines(launcher: RunningProcess): string[] {
  return launcher.output.map((line) => {
    let entry;
    try {
      entry = JSON.parse(line);
    } catch {
      return line;
    }
    if (entry?.process === "up") return entry.event;
    return typeof entry?.process === "string" ? `[${entry.process}] ${line}` : line;
  });
}

/** Waits for a line of output, from line `from` on, that matches; fails with the whole output if none comes. */
export async function waitForLine(
  running: RunningProcess,
  pattern: RegExp,
  from = 0,
  timeoutMs = 60_000,
): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const line of lines(running).slice(from)) {
      const match = line.match(pattern);
      if (match) return match;
    }
    if (!running.running || Date.now() > deadline) {
      throw new Error(`${running.name}: no line matching ${pattern}. Output:\n${running.output.join("\n")}`);
    }
    await delay(20);
  }
}

/** The log entries a child printed, from line `from` of the launcher's output on. */
export function childEntries(launcher: RunningProcess, name: string, from = 0): LogEntry[] {
  const prefix = `[${name}] {`;
  return lines(launcher).slice(from).filter((line) => line.startsWith(prefix)).map((line) =>
    JSON.parse(line.slice(prefix.length - 1))
  );
}

/** The ports a child listened on, one per start. */
export function listenPorts(launcher: RunningProcess, name: string): number[] {
  return childEntries(launcher, name).filter((entry) => entry.event === "listen").map((entry) =>
    (entry.details[0] as { port: number }).port
  );
}

/** How many service instances the gateway has connected to (it logs `instance connected ADDRESS NAME`), by name. */
export function gatewayConnections(launcher: RunningProcess, name: string, from = 0): number {
  return childEntries(launcher, "gate", from).filter((entry) =>
    entry.event === "instance connected" && entry.details[1] === name
  ).length;
}

/** The pids of the children started under `name` (any child when not given), from the launcher's lines. */
export function childPids(launcher: RunningProcess, name?: string): number[] {
  return lines(launcher).flatMap((line) => {
    const match = /^(\S+) started \(pid (\d+),/.exec(line);
    return match && (name === undefined || match[1] === name) ? [Number(match[2])] : [];
  });
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Stops the launcher and, in case it failed to, every child it started: a test leaves no process behind. */
export async function stopLauncher(launcher: RunningProcess | undefined): Promise<void> {
  if (launcher === undefined) return;
  await launcher.stop();
  for (const pid of childPids(launcher).filter(isAlive)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch { /* it exited meanwhile */ }
  }
}
