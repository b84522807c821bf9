/**
 * Every ready Pilcrow instance's NodeReport, asked for over the mesh at once (`GET /_pilcrow/node`): what one
 * scrape of the gateway and its live page show of the services. What an instance sends is checked before anyone
 * reads it (a broken or hostile service must not break the scrape or the page): a report of the wrong shape is no
 * report, its metrics pass sanitize.ts, and one that does not answer in time is listed with why.
 */
import type { Mesh } from "../mesh/mesh.ts";
import type { InstanceReply } from "../mesh/pool.ts";
import { asReportMetrics } from "./families.ts";
import { type GatheredReport, NODE_REPORT_URI, type NodeReport } from "./report.ts";
import { sanitizeFamilies } from "./sanitize.ts";

/** How long the gateway waits for the reports: a frozen instance must not hold a scrape or the page. */
export const GATHER_TIMEOUT_MS = 1000;

const RUNTIMES: ReadonlySet<string> = new Set(["node", "bun", "deno"]);
/** A report's own words (name, version), shown on the live page: bounded. */
const MAX_TEXT = 100;

export async function gatherReports(
  mesh: Pick<Mesh, "askEach">,
  timeoutMs = GATHER_TIMEOUT_MS,
): Promise<GatheredReport[]> {
  let replies: InstanceReply[];
  try {
    replies = await mesh.askEach(NODE_REPORT_URI, timeoutMs);
  } catch {
    return []; // a mesh closing under a scrape: no instance to list
  }
  return replies.map(gathered);
}

function gathered({ id, name, packet, error }: InstanceReply): GatheredReport {
  if (error !== undefined || !packet) return { id, name, error: error ?? "no answer" };
  if (packet.errorcode !== 0) {
    const message = typeof packet.errormessage === "string" ? packet.errormessage.slice(0, MAX_TEXT) : "";
    return { id, name, error: message || "no report" };
  }
  const report = checkedReport(packet.report);
  if (!report) return { id, name, error: "malformed report" };
  const { families, rejected } = sanitizeFamilies((packet.report as { metrics?: unknown }).metrics);
  return { id, name, report: { ...report, metrics: asReportMetrics(families) }, rejectedSamples: rejected };
}

/** The report's own fields, checked and copied (nothing else it carries is passed on); its metrics come apart. */
function checkedReport(candidate: unknown): Omit<NodeReport, "metrics"> | undefined {
  if (typeof candidate !== "object" || candidate === null) return undefined;
  const { name, runtime, version, pid, uptimeSeconds, memory } = candidate as Record<string, unknown>;
  const { rssBytes, heapUsedBytes } = (typeof memory === "object" && memory !== null ? memory : {}) as Record<
    string,
    unknown
  >;
  if (typeof name !== "string" || typeof version !== "string") return undefined;
  if (typeof runtime !== "string" || !RUNTIMES.has(runtime)) return undefined;
  if (![pid, uptimeSeconds, rssBytes, heapUsedBytes].every(isCount)) return undefined;
  return {
    name: name.slice(0, MAX_TEXT),
    runtime: runtime as NodeReport["runtime"],
    version: version.slice(0, MAX_TEXT),
    pid: pid as number,
    uptimeSeconds: uptimeSeconds as number,
    memory: { rssBytes: rssBytes as number, heapUsedBytes: heapUsedBytes as number },
  };
}

function isCount(value: unknown): boolean {
  return typeof value === "number" && Number.isFinite(value) && value >= 0;
}
