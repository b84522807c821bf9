/**
 * `npm run bench [-- --quick] [-- --seconds N] [-- --runtimes node,bun,deno] [-- --calls-only] [-- --growth-only]
 * [-- --nats-only] [-- --observe-only] [-- --peers-only] [-- --speed-only] [-- --growth-nodes 10,100,1000]`: the full run measures
 * each HTTP figure and each call figure for 10 s after a 3 s warm-up, the peers in 3 rounds, and 8 joins per mesh
 * size; `--quick` takes 3 s after 1 s, 2 rounds and 2 joins, for a check that everything works; `--calls-only`
 * measures only the calls between two services, `--growth-only` only how the mesh's cost grows, `--nats-only` only
 * GET /goods through the gateway over TCP and over NATS, `--observe-only` only what metrics, the live page and
 * exported traces cost the gateway's GET /goods, `--peers-only` only Pilcrow against Moleculer and NestJS on Node,
 * `--speed-only` only GET /goods through the gateway (one worker and two) and from a bare Hono app, per runtime.
 */
import { parseArgs } from "node:util";
import type { RuntimeName } from "../../lib/runtime/mod.ts";
import type { CallSettings } from "./calls.ts";
import type { GrowthSettings } from "./mesh-growth.ts";
import type { LoadSettings } from "./wrk.ts";

export interface BenchOptions {
  runtimes: RuntimeName[];
  http: LoadSettings;
  /** Calls from one service to another through the mesh: as long as the HTTP figures, one at a time and in flight. */
  calls: CallSettings;
  /** Only the call figures: no HTTP, Moleculer, codec, TCP hop or memory figures (and no need for wrk). */
  callsOnly: boolean;
  /** Only the mesh-growth figures (no need for wrk). */
  growthOnly: boolean;
  /** Only GET /goods through the gateway with its mesh over TCP and over NATS, per runtime. */
  natsOnly: boolean;
  /** Only GET /goods through the gateway with nothing observed, with metrics and the live page, and with traces exported. */
  observeOnly: boolean;
  /** Only GET /goods on Node through Pilcrow, Moleculer and NestJS, in alternating rounds. */
  peersOnly: boolean;
  /** Only GET /goods through the gateway, with one worker and with two, and from a bare Hono app, per runtime. */
  speedOnly: boolean;
  /**
   * How many times each peer is measured, alternating (each round a new system per peer): enough to see each one's
   * own spread from run to run, which a lead must exceed.
   */
  peerRounds: number;
  growth: GrowthSettings;
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
      "growth-only": { type: "boolean", default: false },
      "nats-only": { type: "boolean", default: false },
      "observe-only": { type: "boolean", default: false },
      "peers-only": { type: "boolean", default: false },
      "speed-only": { type: "boolean", default: false },
      "growth-nodes": { type: "string", default: "10,100,1000" },
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
  const growthNodes = (values["growth-nodes"] as string).split(",").map(Number);
  // The distributor takes 1,024 connections at most (lib/tcp/server.ts): the mesh's nodes and the newcomer.
  if (growthNodes.some((nodes) => !Number.isInteger(nodes) || nodes < 2 || nodes > 1000)) {
    throw new Error(`--growth-nodes must be whole numbers from 2 to 1000, not ${values["growth-nodes"]}`);
  }
  const only = ["calls-only", "growth-only", "nats-only", "observe-only", "peers-only", "speed-only"] as const;
  if (only.filter((name) => values[name]).length > 1) {
    throw new Error(`${only.map((name) => `--${name}`).join(", ")} exclude each other`);
  }
  return {
    runtimes: runtimes as RuntimeName[],
    http: { threads: 1, connections: 50, warmupSeconds: quick ? 1 : 3, seconds },
    calls: { warmupSeconds: quick ? 1 : 3, seconds, inFlight: 100 },
    callsOnly: values["calls-only"] === true,
    growthOnly: values["growth-only"] === true,
    natsOnly: values["nats-only"] === true,
    observeOnly: values["observe-only"] === true,
    peersOnly: values["peers-only"] === true,
    speedOnly: values["speed-only"] === true,
    peerRounds: quick ? 2 : 3,
    growth: { nodes: growthNodes, rounds: quick ? 2 : 8, runtime: "node" },
    codecSeconds: quick ? 1 : 3,
    tcpSeconds: quick ? 1 : 5,
    tcpInFlight: 100,
    settleMs: quick ? 1000 : 3000,
  };
}
