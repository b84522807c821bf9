/**
 * What a node logs of each notification at info: every node gets the whole list, which in full would fill
 * the logs of a large or abused mesh, so only how many nodes, which names, and what changed since the last.
 */
import { addressOf } from "../wire/node-info.ts";
import type { NodeInfo } from "../wire/packet.ts";

/** At most this many names per part of a summary: its log line stays short however long the list. */
const SHOWN = 10;

export function describeChange(previous: NodeInfo[], nodes: NodeInfo[]): Record<string, unknown> {
  const before = byEntry(previous);
  const after = byEntry(nodes);
  const added = [...after.keys()].filter((entry) => !before.has(entry));
  const removed = [...before.keys()].filter((entry) => !after.has(entry));
  const changed = [...after].filter(([entry, urls]) => before.has(entry) && before.get(entry) !== urls);
  return {
    nodes: nodes.length,
    names: shown([...new Set(nodes.map((node) => node.name))]),
    ...(added.length ? { added: shown(added) } : {}),
    ...(removed.length ? { removed: shown(removed) } : {}),
    ...(changed.length ? { changed: shown(changed.map(([entry]) => entry)) } : {}),
  };
}

/** Each entry as `name@host:port`, with its urls (to see a node that now serves something else, or nothing). */
function byEntry(nodes: NodeInfo[]): Map<string, string> {
  return new Map(nodes.map((node) => [`${node.name}@${addressOf(node)}`, node.urls.join(" ")]));
}

function shown(items: string[]): string[] {
  return items.length > SHOWN ? [...items.slice(0, SHOWN), `… ${items.length - SHOWN} more`] : items;
}
