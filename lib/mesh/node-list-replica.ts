/**
 * A Pilcrow node's copy of its distributor's list (docs/protocol.md §3): set whole, then changed by id. A change
 * that does not fit the copy — a version skipped, an id it does not hold removed or updated, an id it holds added —
 * is not applied, not even in part: the copy is out of step from then on, and only a whole list sets it again.
 */
import type { NodeChanges, NodeList } from "../wire/node-changes.ts";
import type { NodeInfo } from "../wire/packet.ts";

export class NodeListReplica {
  /** Entries by id, in the distributor's order; undefined while out of step. */
  #entries: Map<number, NodeInfo | undefined> | undefined;
  #seq = 0;

  /** Whether it holds a list with ids that changes can be applied to. */
  get inStep(): boolean {
    return this.#entries !== undefined;
  }

  /** Out of step: on a new connection, or after a list without ids (the book's notification). */
  forget(): void {
    this.#entries = undefined;
  }

  reset({ seq, nodes }: NodeList): void {
    this.#seq = seq;
    this.#entries = new Map(nodes);
  }

  /** Applies the change; when it does not fit, says why, and the copy is out of step. */
  apply({ seq, added, updated, removed }: NodeChanges): string | undefined {
    const problem = this.#misfit(seq, added.map(([id]) => id), updated.map(([id]) => id), removed);
    if (problem) {
      this.forget();
      return problem;
    }
    const entries = this.#entries!;
    for (const id of removed) entries.delete(id);
    for (const [id, node] of updated) entries.set(id, node);
    for (const [id, node] of added) entries.set(id, node);
    this.#seq = seq;
    return undefined;
  }

  #misfit(seq: number, added: number[], updated: number[], removed: number[]): string | undefined {
    const entries = this.#entries;
    if (!entries) return "no whole list to apply it to";
    if (seq !== this.#seq + 1) return `version ${seq} after ${this.#seq}`;
    const gone = new Set(removed);
    for (const id of removed) if (!entries.has(id)) return `removes id ${id}, which is not listed`;
    if (gone.size !== removed.length) return "removes an id twice";
    const touched = new Set<number>();
    for (const id of updated) {
      if (!entries.has(id) || gone.has(id)) return `updates id ${id}, which is not listed`;
      if (touched.has(id)) return `updates id ${id} twice`;
      touched.add(id);
    }
    for (const id of added) {
      if (entries.has(id) || touched.has(id)) return `adds id ${id}, which is listed already`;
      touched.add(id);
    }
    return undefined;
  }

  /** The nodes listed, in order (entries no schema reads left out). */
  nodes(): NodeInfo[] {
    const nodes: NodeInfo[] = [];
    for (const node of this.#entries?.values() ?? []) if (node) nodes.push(node);
    return nodes;
  }

  /** The copy as a whole list, as the distributor would send it at this version; undefined while out of step. */
  list(): NodeList | undefined {
    return this.#entries && { seq: this.#seq, nodes: [...this.#entries] };
  }
}
