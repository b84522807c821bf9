/**
 * A simulated node of the mesh-growth figures: one TCP connection to the distributor that registers as a node
 * does, then only counts what it is sent: bytes, and frames (each ends with `¶`, bytes C2 B6) with the size of
 * the last one. It parses nothing, so that a thousand of them in one process cost little next to the distributor
 * they measure; one of them, the sentinel, also reads every frame and follows the node list as a node does
 * (lib/mesh/node-list-replica.ts), to tell which nodes the mesh lists and the size of the whole list with ids.
 */
import { concatBytes } from "../../../lib/bytes.ts";
import { NodeListReplica } from "../../../lib/mesh/node-list-replica.ts";
import { tcpImplementation } from "../../../lib/runtime/mod.ts";
import type { TcpSocket } from "../../../lib/runtime/types.ts";
import { encodePacket } from "../../../lib/wire/codec.ts";
import {
  NODE_CHANGES_URI,
  NODE_LIST_URI,
  type NodeList,
  readNodeChanges,
  readNodeList,
} from "../../../lib/wire/node-changes.ts";
import { parseNodeList } from "../../../lib/wire/node-info.ts";
import { DISTRIBUTES, type NodeInfo, type Packet } from "../../../lib/wire/packet.ts";

const LEAD = 0xc2;
const TRAIL = 0xb6;
const CONNECT_TIMEOUT_MS = 10_000;

export interface Address {
  hostname: string;
  port: number;
}

export class SimulatedNode {
  /** Bytes received on the connection so far. */
  bytes = 0;
  /** Frames received so far, and the size in bytes of the last one (its `¶` included). */
  frames = 0;
  lastFrameBytes = 0;
  /** What a sentinel found wrong in what it was sent: a frame it could not read, a change that did not fit. */
  problem: string | undefined;
  closed = false;

  #frameStartsAt = 0;
  #previousByte = 0;
  /** A sentinel's bytes of the frame under way. */
  #pending: Uint8Array[] = [];
  /** A sentinel's list: the last book notification's, or the copy kept from the lists with ids and changes. */
  #notified: NodeInfo[] = [];
  #replica = new NodeListReplica();
  #socket!: TcpSocket;

  private constructor(readonly self: NodeInfo, readonly sentinel: boolean) {}

  /** Connects to the distributor and registers `self`; resolves once the registration is written. */
  static async register(distributor: Address, self: NodeInfo, sentinel = false): Promise<SimulatedNode> {
    const node = new SimulatedNode(self, sentinel);
    node.#socket = await tcpImplementation().connect(
      { hostname: distributor.hostname, port: distributor.port, timeoutMs: CONNECT_TIMEOUT_MS },
      () => ({
        data: (chunk) => node.#received(chunk),
        drain() {},
        close: () => void (node.closed = true),
      }),
    );
    node.#socket.write(encodePacket({ uri: DISTRIBUTES, method: "POST", key: 0, params: self }));
    return node;
  }

  /** The nodes listed (a sentinel only). */
  nodes(): NodeInfo[] {
    return this.#replica.inStep ? this.#replica.nodes() : this.#notified;
  }

  /** The list with ids, as the distributor would send it whole now (a sentinel in step only). */
  list(): NodeList | undefined {
    return this.#replica.list();
  }

  close(): void {
    this.#socket.destroy();
  }

  #received(chunk: Uint8Array): void {
    let frameStartsInChunk = 0;
    // `¶` may be split between two chunks: its first byte is then the previous chunk's last.
    for (let index = chunk.indexOf(TRAIL); index !== -1; index = chunk.indexOf(TRAIL, index + 1)) {
      const before = index === 0 ? this.#previousByte : chunk[index - 1];
      if (before !== LEAD) continue;
      const endsAt = this.bytes + index + 1;
      this.frames++;
      this.lastFrameBytes = endsAt - this.#frameStartsAt;
      if (this.sentinel) {
        this.#follow(concatBytes([...this.#pending, chunk.subarray(frameStartsInChunk, index + 1)]));
        this.#pending = [];
      }
      this.#frameStartsAt = endsAt;
      frameStartsInChunk = index + 1;
    }
    // Chunks may be reused by the runtime once this returns: a sentinel copies what it keeps.
    if (this.sentinel && frameStartsInChunk < chunk.length) this.#pending.push(chunk.slice(frameStartsInChunk));
    this.bytes += chunk.length;
    this.#previousByte = chunk[chunk.length - 1];
  }

  #follow(frame: Uint8Array): void {
    const packet = JSON.parse(new TextDecoder().decode(frame.subarray(0, -2))) as Packet;
    if (packet.uri === DISTRIBUTES) {
      this.#notified = parseNodeList(packet.params) ?? [];
      this.#replica.forget();
    } else if (packet.uri === NODE_LIST_URI) {
      const read = readNodeList(packet.params);
      if ("problem" in read) this.problem ??= `a list the sentinel cannot read: ${read.problem}`;
      else this.#replica.reset(read.list);
    } else if (packet.uri === NODE_CHANGES_URI) {
      const read = readNodeChanges(packet.params);
      const misfit = "problem" in read ? read.problem : this.#replica.apply(read.changes);
      if (misfit) this.problem ??= `a change the sentinel cannot apply: ${misfit}`;
    }
  }
}
