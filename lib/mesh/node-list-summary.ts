/**
 * What the distributor logs at info of each notification it sends: every node gets the whole list, which in
 * full would fill the log of a large or abused mesh, so only how many nodes there are and the entries that
 * changed since the last list, each as it is listed (`{ port, name, urls: [Array], host }` in the human log,
 * as the book prints a notification's entries). The nodes log the whole list they receive at debug.
 */
import { addressOf } from "../wire/node-info.ts";
import type { NodeInfo } from "../wire/packet.ts";

/** At most this many entries per part of a summary: its log line stays short however much changed. */
const SHOWN = 10;

export interface ListChange {
  nodes: number;
  /** Entries new to the list. */
  added?: (NodeInfo | string)[];
  /** Entries listed before with other urls (a node that leaves registers again with none), as they are now. */
  changed?: (NodeInfo | string)[];
  /** Entries no longer listed, as they were. */
  removed?: (NodeInfo | string)[];
}

/** What changed from one list to the next; undefined when nothing did (a node came and went within one list). */
export function describeChange(previous: NodeInfo[], nodes: NodeInfo[]): ListChange | undefined {
  const before = byEntry(previous);
  const after = byEntry(nodes);
  const added = [...after].filter(([entry]) => !before.has(entry)).map(([, node]) => node);
  const removed = [...before].filter(([entry]) => !after.has(entry)).map(([, node]) => node);
  const changed = [...after]
    .filter(([entry, node]) => before.has(entry) && urlsOf(before.get(entry)!) !== urlsOf(node))
    .map(([, node]) => node);
  if (!added.length && !removed.length && !changed.length) return undefined;
  return {
    nodes: nodes.length,
    ...(added.length ? { added: shown(added) } : {}),
    ...(changed.length ? { changed: shown(changed) } : {}),
    ...(removed.length ? { removed: shown(removed) } : {}),
  };
}

/** Each entry by `name@host:port`: a node is the same entry as long as it has the same name and address. */
function byEntry(nodes: NodeInfo[]): Map<string, NodeInfo> {
  return new Map(nodes.map((node) => [`${node.name}@${addressOf(node)}`, node]));
}

const urlsOf = (node: NodeInfo) => node.urls.join(" ");

function shown(entries: NodeInfo[]): (NodeInfo | string)[] {
  return entries.length > SHOWN ? [...entries.slice(0, SHOWN), `… ${entries.length - SHOWN} more`] : entries;
}
