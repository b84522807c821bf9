/**
 * `npm run bench [-- --quick] [-- --seconds N] [-- --runtimes node,bun,deno] [-- --calls-only]`: the full run
 * measures each HTTP figure and each call figure for 10 s after a 3 s warm-up; `--quick` takes 3 s after 1 s, for
 * a check that everything works; `--calls-only` measures only the calls between two services.
 */
import { parseArgs } from "node:util";
import type { RuntimeName } from "../../lib/runtime/mod.ts";
import type { CallSettings } from "./calls.ts";
import type { LoadSettings } from "./wrk.ts";

export interface BenchOptions {
  runtimes: RuntimeName[];
  http: LoadSettings;
  /** Calls from one service to another through the mesh: as long as the HTTP figures, one at a time and in flight. */
  calls: CallSettings;
  /** Only the call figures: no HTTP, Moleculer, codec, TCP hop or memory figures (and no need for wrk). */
  callsOnly: boolean;
  /** Seconds each in-process codec figure runs, and each TCP hop figure. */
  codecSeconds: number;
  tcpSeconds: number;
  /** Requests kept in flight in the TCP hop figure. */
  tcpInFlight: number;
  /** How long processes sit after start-up before their idle memory is read. */
  settleMs: number;
}

const RUNTIMES: RuntimeName[] = ["node", "bun", "deno"];

export function parseBenchOptions(args: string[]): BenchOptions {
  const { values } = parseArgs({
    args,
    options: {
      quick: { type: "boolean", default: false },
      "calls-only": { type: "boolean", default: false },
      seconds: { type: "string" },
      runtimes: { type: "string", default: RUNTIMES.join(",") },
    },
  });
  const quick = values.quick === true;
  const seconds = values.seconds === undefined ? (quick ? 3 : 10) : Number(values.seconds);
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > 120) {
    throw new Error(`--seconds must be a whole number from 1 to 120, not ${values.seconds}`);
  }
  const runtimes = (values.runtimes as string).split(",").map((name) => name.trim());
  for (const name of runtimes) {
    if (!RUNTIMES.includes(name as RuntimeName)) throw new Error(`unknown runtime ${name}: use ${RUNTIMES.join(",")}`);
  }
  return {
    runtimes: runtimes as RuntimeName[],
    http: { threads: 1, connections: 50, warmupSeconds: quick ? 1 : 3, seconds },
    calls: { warmupSeconds: quick ? 1 : 3, seconds, inFlight: 100 },
    callsOnly: values["calls-only"] === true,
    codecSeconds: quick ? 1 : 3,
    tcpSeconds: quick ? 1 : 5,
    tcpInFlight: 100,
    settleMs: quick ? 1000 : 3000,
  };
}
