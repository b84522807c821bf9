/**
 * Every ready Pilcrow instance's NodeReport, asked for over the mesh at once (`GET /_pilcrow/node`): what one
 * scrape of the gateway and its live page show of the services.
 */
import type { Mesh } from "../mesh/mesh.ts";
import { type GatheredReport, NODE_REPORT_URI, type NodeReport } from "./report.ts";

/** How long the gateway waits for the reports: a frozen instance must not hold a scrape or the page. */
export const GATHER_TIMEOUT_MS = 1000;

export async function gatherReports(
  mesh: Pick<Mesh, "askEach">,
  timeoutMs = GATHER_TIMEOUT_MS,
): Promise<GatheredReport[]> {
  const replies = await mesh.askEach(NODE_REPORT_URI, timeoutMs);
  return replies.map(({ id, name, packet, error }) => {
    if (error !== undefined || !packet) return { id, name, error: error ?? "no answer" };
    const report = packet.report;
    if (packet.errorcode !== 0 || typeof report !== "object" || report === null) {
      return { id, name, error: typeof packet.errormessage === "string" ? packet.errormessage : "no report" };
    }
    return { id, name, report: report as NodeReport };
  });
}
