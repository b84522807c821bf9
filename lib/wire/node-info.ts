/** Validation of what nodes say about themselves, shared by the distributor and the nodes that read its list. */
import { Buffer } from "node:buffer";
import * as v from "valibot";
import type { NodeInfo } from "./packet.ts";

/**
 * Bounds on a registration. The book's services serve 2 or 3 urls of under 20 characters (about 100 bytes
 * registered); a service with 256 routes of 60 characters each still fits. They exist so that a handful of
 * registrations can never make the node list larger than the nodes accept (DEFAULT_MAX_FRAME_BYTES, 1 MiB):
 * at 16 KiB at most, it takes 64 maximal registrations to fill it, where a real mesh lists about 100 bytes a node.
 */
export const MAX_URLS = 256;
export const MAX_URL_LENGTH = 512;
export const MAX_REGISTRATION_BYTES = 16 * 1024;

export const NodeInfoSchema = v.object({
  port: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(65535)),
  name: v.pipe(v.string(), v.minLength(1), v.maxLength(256)),
  urls: v.pipe(v.array(v.pipe(v.string(), v.maxLength(MAX_URL_LENGTH))), v.maxLength(MAX_URLS)),
  host: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(256))),
  pilcrow: v.optional(v.number()),
});

function parseNodeInfo(value: unknown): NodeInfo | undefined {
  const result = v.safeParse(NodeInfoSchema, value);
  return result.success ? result.output : undefined;
}

/** The node, or why it is not one: the first problem, in a few words (never the whole, maybe huge, value). */
export function checkNodeInfo(value: unknown): { node: NodeInfo } | { problem: string } {
  const result = v.safeParse(NodeInfoSchema, value);
  return result.success ? { node: result.output } : { problem: describeIssue(result.issues) };
}

/** The first of a peer's value's problems, where it is and what it is, short enough for a log line. */
export function describeIssue(issues: readonly [v.BaseIssue<unknown>, ...v.BaseIssue<unknown>[]]): string {
  const issue = issues[0];
  const path = issue.path?.map((item) => String(item.key)).join(".") ?? "";
  const problem = `${path ? `${path}: ` : ""}${issue.message}`;
  return problem.length > 120 ? `${problem.slice(0, 120)}…` : problem;
}

/** Keeps the valid entries of a notification list; a bad entry must not hide the good ones. */
export function parseNodeList(value: unknown): NodeInfo[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const nodes: NodeInfo[] = [];
  for (const entry of value) {
    const node = parseNodeInfo(entry);
    if (node) nodes.push(node);
  }
  return nodes;
}

/** Bytes a node's entry takes in a notification frame, where each `¶` is written as the 6 bytes `\u00b6`. */
export function entryBytes(node: NodeInfo): number {
  const json = JSON.stringify(node);
  return Buffer.byteLength(json) + 4 * (json.split("¶").length - 1);
}

/** `::ffff:127.0.0.1` (how a dual-stack listener sees an IPv4 peer) is reached as `127.0.0.1` on every runtime. */
export function reachableHost(host: string): string {
  return host.startsWith("::ffff:") && host.includes(".") ? host.slice(7) : host;
}

/** Where a listed node is reached: two entries with the same address are one listening process. */
export function addressOf(node: NodeInfo): string {
  return `${reachableHost(node.host ?? "")}:${node.port}`;
}
