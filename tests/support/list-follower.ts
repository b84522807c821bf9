/**
 * A node reduced to its link with the distributor, to look at what the distributor sends: it registers (as a
 * Pilcrow node of version 2 unless told otherwise), answers pings, keeps every other packet, and follows the node
 * list from them as docs/protocol.md §2 says — the book's notification, the whole list with ids, changes — on a
 * copy of its own, written apart from lib/mesh's. Whatever does not fit is recorded in `misfits`, not repaired.
 */
import { createLogger } from "../../lib/log.ts";
import { PacketClient } from "../../lib/tcp/client.ts";
import { isPing, pong } from "../../lib/wire/heartbeat.ts";
import type { NodeInfo, Packet } from "../../lib/wire/packet.ts";

const quiet = createLogger({ name: "follower", level: "error" });

export class ListFollower {
  /** Every packet received but pings, in order. */
  readonly packets: Packet[] = [];
  readonly misfits: string[] = [];
  #client: PacketClient;
  #plain: NodeInfo[] = [];
  /** The list with ids, after a whole list with ids; undefined after the book's notification. */
  #entries: Map<number, NodeInfo> | undefined;
  #seq = 0;

  constructor(distributorPort: number, readonly self: NodeInfo) {
    this.#client = new PacketClient({
      hostname: "127.0.0.1",
      port: distributorPort,
      log: quiet,
      connected: (client) => client.send({ uri: "/distributes", method: "POST", key: 0, params: this.self }),
      unsolicited: (packet) => {
        if (isPing(packet)) return void this.#client.send(pong(packet));
        this.packets.push(packet);
        this.#follow(packet);
      },
    }).open();
  }

  /** The list as this node holds it now. */
  nodes(): NodeInfo[] {
    return this.#entries ? [...this.#entries.values()] : this.#plain;
  }

  /** Registers again on the same connection (other urls, say). */
  register(self: NodeInfo): void {
    this.#client.send({ uri: "/distributes", method: "POST", key: 0, params: self });
  }

  send(packet: Packet): void {
    this.#client.send(packet);
  }

  close(): void {
    this.#client.close();
  }

  // deno-lint-ignore no-explicit-any
  #follow({ uri, method, params }: { uri?: string; method?: string; params?: any }): void {
    if (uri === "/distributes" && method === "GET") {
      this.#plain = params;
      this.#entries = undefined;
    } else if (uri === "/_pilcrow/nodes") {
      this.#entries = new Map(params.nodes);
      this.#seq = params.seq;
    } else if (uri === "/_pilcrow/nodes/changes") {
      this.#change(params);
    } else {
      this.misfits.push(`unexpected packet ${uri} ${method}`);
    }
  }

  // deno-lint-ignore no-explicit-any
  #change({ seq, added = [], updated = [], removed = [] }: any): void {
    const entries = this.#entries;
    if (!entries) return void this.misfits.push(`change ${seq} with no list with ids to apply it to`);
    if (seq !== this.#seq + 1) this.misfits.push(`change ${seq} after ${this.#seq}`);
    this.#seq = seq;
    for (const id of removed) {
      if (!entries.delete(id)) this.misfits.push(`change ${seq} removes ${id}, which is not listed`);
    }
    for (const [id, node] of updated) {
      if (!entries.has(id)) this.misfits.push(`change ${seq} updates ${id}, which is not listed`);
      entries.set(id, node);
    }
    for (const [id, node] of added) {
      if (entries.has(id)) this.misfits.push(`change ${seq} adds ${id}, which is listed`);
      if ([...entries.keys()].some((listed) => listed > id)) this.misfits.push(`change ${seq} adds ${id} out of order`);
      entries.set(id, node);
    }
  }
}
