/**
 * How the mesh's cost grows with its size (issue 15): per mesh size, a newcomer joining over the distributor
 * (growth/distributor-growth.ts) and over NATS (growth/nats-growth.ts, on a private nats-server; skipped, with the
 * reason, where none can be started).
 */
import type { Logger } from "../../lib/log.ts";
import type { RuntimeName } from "../../lib/runtime/mod.ts";
import { type GrowthFigure, measureDistributorGrowth } from "./growth/distributor-growth.ts";
import { measureNatsGrowth, type NatsGrowthFigure } from "./growth/nats-growth.ts";

export interface GrowthSettings {
  /** Mesh sizes, in nodes. */
  nodes: number[];
  /** Joins measured per size (after one that warms up). */
  rounds: number;
  /** The distributor's runtime. */
  runtime: RuntimeName;
}

export interface GrowthResult {
  nodes: number;
  distributor: GrowthFigure;
  nats?: NatsGrowthFigure;
}

export interface GrowthResults {
  sizes: GrowthResult[];
  /** Why there are no NATS figures, when there are none. */
  natsSkipped?: string;
}

export async function measureMeshGrowth(
  settings: GrowthSettings,
  log: Logger,
  progress: (text: string) => void,
): Promise<GrowthResults> {
  const results: GrowthResults = { sizes: [] };
  for (const nodes of settings.nodes) {
    progress(`mesh growth: ${nodes} nodes over the distributor (${settings.runtime}), ${settings.rounds} joins`);
    const distributor = await measureDistributorGrowth(nodes, settings.rounds, settings.runtime, log);
    // The report's table shows joins; a leave, which sends no whole list, is told here.
    progress(
      `mesh growth: ${nodes} nodes over the distributor: ${Math.round(distributor.bytesPerChange)} bytes a join, `
        + `${Math.round(distributor.bytesPerLeave ?? NaN)} a leave, `
        + `${distributor.cpuMsPerChange?.toFixed(2)} ms of the distributor's CPU a change`,
    );
    let nats: NatsGrowthFigure | undefined;
    if (results.natsSkipped === undefined) {
      progress(`mesh growth: ${nodes} nodes over NATS, ${settings.rounds} joins`);
      try {
        nats = await measureNatsGrowth(nodes, settings.rounds, log);
      } catch (error) {
        results.natsSkipped = (error as Error).message;
        progress(`mesh growth: no NATS figures: ${results.natsSkipped}`);
      }
    }
    results.sizes.push({ nodes, distributor, nats });
  }
  return results;
}
