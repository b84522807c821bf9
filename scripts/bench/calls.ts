/**
 * The call figure: calls from one service's handler to another's route through the mesh core (`context.call`),
 * one at a time and many in flight. The caller times them itself (call-caller.ts says why); this side only asks it
 * to, over a PacketClient as any peer would, and reads the CPU both services used meanwhile.
 */
import { createLogger } from "../../lib/log.ts";
import { connectedClient } from "./connect.ts";
import type { Contender } from "./contenders.ts";
import { cpuSeconds } from "./proc.ts";

export interface CallFigure {
  callsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Calls that failed: a figure with any is not a clean measurement. */
  failures: number;
  /** Of one core, per process on the call's path. */
  cpu: Record<string, number>;
}

export interface CallResult {
  oneAtATime: CallFigure;
  inFlight: CallFigure;
}

interface Timed {
  calls: number;
  failures: number;
  callsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
}

export interface CallSettings {
  warmupSeconds: number;
  seconds: number;
  inFlight: number;
}

/** Longer than the longest measurement, so that the caller's deadline never cuts one short. */
const MARGIN_MS = 30_000;
/** How long the caller may take to learn of the callee from the distributor before the figure is given up. */
const READY_WITHIN_MS = 15_000;

const log = createLogger({ name: "bench-calls", format: "json", level: "warn" });

export async function measureCalls(pair: Contender, settings: CallSettings): Promise<CallResult> {
  const client = await connectedClient(Number(new URL(pair.url).port), log);
  let nextKey = 0;
  const timed = async (ms: number, inFlight: number): Promise<Timed> => {
    const key = nextKey++;
    const packet = { uri: "/calls", method: "GET", params: { ms, inFlight, key }, key, timeout: ms + MARGIN_MS };
    const answer = await client.request(packet, ms + MARGIN_MS);
    if (answer.errorcode !== 0) throw new Error(`the caller answered ${JSON.stringify(answer)}`);
    return answer as unknown as Timed;
  };
  const pids = pair.requestPath.map((name) => [name, pair.processes.get(name)!.child.pid] as const);
  const figure = async (inFlight: number): Promise<CallFigure> => {
    if (settings.warmupSeconds > 0) await timed(settings.warmupSeconds * 1000, inFlight);
    const cpuBefore = pids.map(([, pid]) => cpuSeconds(pid));
    const measuredFrom = performance.now();
    const { callsPerSecond, p50Ms, p99Ms, failures } = await timed(settings.seconds * 1000, inFlight);
    const seconds = (performance.now() - measuredFrom) / 1000;
    const cpu = Object.fromEntries(
      pids.map(([name, pid], index) => [name, (cpuSeconds(pid) - cpuBefore[index]) / seconds]),
    );
    return { callsPerSecond, p50Ms, p99Ms, failures, cpu };
  };
  try {
    // The caller learns where the callee is from the distributor's notification: until then its calls fail.
    const readyBy = Date.now() + READY_WITHIN_MS;
    while ((await timed(100, 1)).failures > 0) {
      if (Date.now() > readyBy) throw new Error(`the caller could not reach the callee in ${READY_WITHIN_MS} ms`);
    }
    return { oneAtATime: await figure(1), inFlight: await figure(settings.inFlight) };
  } finally {
    client.close();
  }
}
