/**
 * A simulated node of the mesh-growth figures: one TCP connection to the distributor that registers as a node
 * does, then only counts what it is sent: bytes, and frames (each ends with `¶`, bytes C2 B6) with the size of
 * the last one. It parses nothing, so that a thousand of them in one process cost little next to the distributor
 * they measure; one of them, the sentinel, also keeps its last frame, to read which nodes it lists.
 */
import { concatBytes } from "../../../lib/bytes.ts";
import { tcpImplementation } from "../../../lib/runtime/mod.ts";
import type { TcpSocket } from "../../../lib/runtime/types.ts";
import { encodePacket } from "../../../lib/wire/codec.ts";
import { DISTRIBUTES, type NodeInfo } from "../../../lib/wire/packet.ts";

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
  /** The last frame's bytes, kept only by a sentinel. */
  lastFrame: Uint8Array | undefined;
  closed = false;

  #frameStartsAt = 0;
  #previousByte = 0;
  /** A sentinel's bytes of the frame under way. */
  #pending: Uint8Array[] = [];
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

  /** The node list of the last frame (a sentinel only). */
  lastList(): NodeInfo[] {
    if (!this.lastFrame) return [];
    const text = new TextDecoder().decode(this.lastFrame.subarray(0, -2));
    return JSON.parse(text).params as NodeInfo[];
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
        this.lastFrame = concatBytes([...this.#pending, chunk.subarray(frameStartsInChunk, index + 1)]);
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
}
