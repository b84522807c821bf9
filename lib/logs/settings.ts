/**
 * Whether this node sends its log lines to the `logs` service over the mesh (`--log-to-mesh`,
 * PILCROW_LOG_TO_MESH=1).
 *
 * STUB: the lead wired it; the logs helper fills it in.
 */
import type { CommonConfig } from "../config.ts";
import { environment } from "../runtime/mod.ts";

/** The route log lines are sent to. */
export const LOGS_ROUTE = "POST/logs";

export function shipsLogs(config: CommonConfig): boolean {
  return config.values["log-to-mesh"] === true || environment("PILCROW_LOG_TO_MESH") === "1";
}
