/** Validation of what nodes say about themselves, shared by the distributor and the nodes that read its list. */
import * as v from "valibot";
import type { NodeInfo } from "./packet.ts";

export const NodeInfoSchema = v.object({
  port: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(65535)),
  name: v.pipe(v.string(), v.minLength(1), v.maxLength(256)),
  urls: v.array(v.pipe(v.string(), v.maxLength(1024))),
  host: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(256))),
  pilcrow: v.optional(v.number()),
});

export function parseNodeInfo(value: unknown): NodeInfo | undefined {
  const result = v.safeParse(NodeInfoSchema, value);
  return result.success ? result.output : undefined;
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
