/**
 * The distributor's list as its Pilcrow nodes know it (docs/protocol.md §3): each entry by the id it got when it
 * was listed, the version the nodes were last told, and which entries were set or dropped since. `publish` turns
 * those into the next version's change, so a broadcast costs the entries that changed, not the whole list; the
 * whole list is made only for a node that needs it, at the published version, so that the next change fits it.
 */
import { Buffer } from "node:buffer";
import { frameText } from "../wire/codec.ts";
import {
  listedEntryBytes,
  type ListedNode,
  NODE_LIST_OVERHEAD,
  nodeChangesPacket,
  nodeListPacket,
} from "../wire/node-changes.ts";
import type { NodeInfo } from "../wire/packet.ts";

interface Entry {
  node: NodeInfo;
  /** Its size in the whole list (listedEntryBytes). */
  bytes: number;
}

export interface Publication {
  /** What every Pilcrow node that holds the previous version is sent: the change, or the whole list when smaller. */
  frame: string;
  /** The entries as they were and as they are now, of those that changed (for the log's summary). */
  before: NodeInfo[];
  after: NodeInfo[];
}

export class PublishedList {
  #seq = 0;
  /** As the nodes know it, in id order. */
  #published = new Map<number, Entry>();
  /** As registered now. */
  #current = new Map<number, Entry>();
  /** Ids set or dropped since the last publication. */
  #touched = new Set<number>();
  #publishedBytes = NODE_LIST_OVERHEAD;
  #currentBytes = NODE_LIST_OVERHEAD;
  #wholeFrame: string | undefined;

  /** The version the nodes were last told. */
  get seq(): number {
    return this.#seq;
  }

  /** Lists the node under `id`, or replaces what `id` listed. */
  set(id: number, node: NodeInfo, entryBytes: number): void {
    const entry = { node, bytes: listedEntryBytes(id, entryBytes) };
    this.#currentBytes += entry.bytes - (this.#current.get(id)?.bytes ?? 0);
    this.#current.set(id, entry);
    this.#touched.add(id);
  }

  delete(id: number): void {
    const entry = this.#current.get(id);
    if (!entry) return;
    this.#currentBytes -= entry.bytes;
    this.#current.delete(id);
    this.#touched.add(id);
  }

  /** The most bytes the whole list would take with `id` listed with an entry of `entryBytes` bytes. */
  bytesWith(id: number, entryBytes: number): number {
    return this.#currentBytes - (this.#current.get(id)?.bytes ?? 0) + listedEntryBytes(id, entryBytes);
  }

  /** Makes what changed since the last version the next version; undefined when nothing did. */
  publish(): Publication | undefined {
    const added: ListedNode[] = [];
    const updated: ListedNode[] = [];
    const removed: number[] = [];
    const before: NodeInfo[] = [];
    const after: NodeInfo[] = [];
    for (const id of this.#touched) {
      const was = this.#published.get(id);
      const is = this.#current.get(id);
      if (was?.node === is?.node) continue; // listed and dropped within one turn, or never listed
      if (was) before.push(was.node);
      if (is) after.push(is.node);
      if (!is) removed.push(id);
      else if (was) updated.push([id, is.node]);
      else added.push([id, is.node]);
    }
    this.#touched.clear();
    if (!added.length && !updated.length && !removed.length) return undefined;
    // New ids are greater than any published: added in id order, they go at the end, as in the registry.
    added.sort(([a], [b]) => a - b);
    for (const id of removed) this.#published.delete(id);
    for (const [id] of updated) this.#published.set(id, this.#current.get(id)!);
    for (const [id] of added) this.#published.set(id, this.#current.get(id)!);
    this.#publishedBytes = this.#currentBytes;
    this.#seq++;
    this.#wholeFrame = undefined;
    const change = frameText(nodeChangesPacket({ seq: this.#seq, added, updated, removed }));
    // A burst can change more than the list holds (all of it replaced): the whole list is then the smaller.
    const frame = Buffer.byteLength(change) < this.#publishedBytes ? change : this.wholeFrame();
    return { frame, before, after };
  }

  /** The whole list at the published version, made once per version. */
  wholeFrame(): string {
    return this.#wholeFrame ??= frameText(nodeListPacket({
      seq: this.#seq,
      nodes: [...this.#published].map(([id, { node }]) => [id, node]),
    }));
  }
}
