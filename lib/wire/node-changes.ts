/**
 * The node list as a Pilcrow distributor tells it to Pilcrow nodes (docs/protocol.md §2, §3): the whole list with
 * an id for each entry, then only what changes, by id. Book peers never see these packets; they get the book's
 * notification, the whole list every time. Every packet carries the list's version, `seq`: a change moves a copy of
 * the list from `seq − 1` to `seq`, so a node that finds a gap, or a change naming an id it does not hold, knows
 * its copy is wrong and asks for the whole list again rather than drift.
 */
import { Buffer } from "node:buffer";
import * as v from "valibot";
import { describeIssue, NodeInfoSchema } from "./node-info.ts";
import type { NodeInfo, Packet } from "./packet.ts";

/**
 * The protocol version (a registration's `pilcrow`) of nodes that take the list this way. Nodes of version 1
 * (heartbeats only: an earlier Pilcrow) get the book's notification every time, as book nodes do.
 */
export const LIST_CHANGES_PROTOCOL = 2;

/** Whether a node registered as one that takes the list by changes. */
export const takesListChanges = (node: NodeInfo): boolean => (node.pilcrow ?? 0) >= LIST_CHANGES_PROTOCOL;

/** The whole list (distributor → node); the same uri from a node asks the distributor for it. */
export const NODE_LIST_URI = "/_pilcrow/nodes";
/** What changed since the previous version (distributor → node). */
export const NODE_CHANGES_URI = "/_pilcrow/nodes/changes";

/**
 * An entry: the id the distributor gave it when it was listed (a positive integer, never given twice by one
 * distributor, greater for a later entry), and the node as it registered. A node that no schema of this version
 * reads (a newer distributor's) is `undefined`: its id is still held, so that changes to it still fit.
 */
export type ListedNode = [id: number, node: NodeInfo | undefined];

export interface NodeList {
  seq: number;
  /** In the distributor's order, which is the order of the ids. */
  nodes: ListedNode[];
}

/** Applied in this order: removed, updated in place, then added at the end, in the order given. */
export interface NodeChanges {
  seq: number;
  added: ListedNode[];
  updated: ListedNode[];
  removed: number[];
}

export const askForNodeList = (): Packet => ({ uri: NODE_LIST_URI, method: "GET", key: 0 });

export function nodeListPacket({ seq, nodes }: NodeList): Packet {
  return { uri: NODE_LIST_URI, method: "GET", key: 0, params: { seq, nodes } };
}

/** Parts with nothing in them are left out: a node that leaves costs its id, a few bytes. */
export function nodeChangesPacket({ seq, added, updated, removed }: NodeChanges): Packet {
  return {
    uri: NODE_CHANGES_URI,
    method: "GET",
    key: 0,
    params: {
      seq,
      ...(added.length ? { added } : {}),
      ...(updated.length ? { updated } : {}),
      ...(removed.length ? { removed } : {}),
    },
  };
}

const SeqSchema = v.pipe(v.number(), v.safeInteger(), v.minValue(0));
const IdSchema = v.pipe(v.number(), v.safeInteger(), v.minValue(1));
const EntrySchema = v.strictTuple([IdSchema, v.unknown()]);
const NodeListSchema = v.object({ seq: SeqSchema, nodes: v.array(EntrySchema) });
const NodeChangesSchema = v.object({
  seq: SeqSchema,
  added: v.optional(v.array(EntrySchema), []),
  updated: v.optional(v.array(EntrySchema), []),
  removed: v.optional(v.array(IdSchema), []),
});

/** A whole list's params, or what is wrong with them: ids must be unique and ascending. */
export function readNodeList(params: unknown): { list: NodeList } | { problem: string } {
  const result = v.safeParse(NodeListSchema, params);
  if (!result.success) return { problem: describeIssue(result.issues) };
  const nodes = result.output.nodes.map(readEntry);
  for (let index = 1; index < nodes.length; index++) {
    if (nodes[index][0] <= nodes[index - 1][0]) return { problem: `nodes.${index}: ids out of order` };
  }
  return { list: { seq: result.output.seq, nodes } };
}

/** A change's params, or what is wrong with their shape (whether they fit a node's copy is the copy's to say). */
export function readNodeChanges(params: unknown): { changes: NodeChanges } | { problem: string } {
  const result = v.safeParse(NodeChangesSchema, params);
  if (!result.success) return { problem: describeIssue(result.issues) };
  const { seq, added, updated, removed } = result.output;
  return { changes: { seq, added: added.map(readEntry), updated: updated.map(readEntry), removed } };
}

function readEntry([id, node]: [number, unknown]): ListedNode {
  const result = v.safeParse(NodeInfoSchema, node);
  return [id, result.success ? result.output : undefined];
}

/**
 * The most bytes the whole-list frame takes beyond its entries: the packet around them with the longest `seq`.
 * Each entry adds its own bytes and those of listedEntryBytes.
 */
export const NODE_LIST_OVERHEAD = Buffer.byteLength(
  JSON.stringify(nodeListPacket({ seq: Number.MAX_SAFE_INTEGER, nodes: [] })) + "¶",
);

/** Bytes an entry of `entryBytes` (node-info.ts entryBytes) takes in the whole list: `[id,…]` and a comma. */
export function listedEntryBytes(id: number, entryBytes: number): number {
  return entryBytes + String(id).length + 4;
}
