/**
 * A peer written the way the book writes one: plain node:net, `JSON.stringify(p) + "¶"` out, text split on
 * `¶` in. Used to prove that programs written for the original protocol interoperate with Pilcrow.
 */
import { connect, type Socket } from "node:net";
import { delay } from "./processes.ts";

// deno-lint-ignore no-explicit-any
export type AnyPacket = any;

export class BookPeer {
  readonly packets: AnyPacket[] = [];
  readonly closed: Promise<void>;
  #merged = "";

  private constructor(readonly socket: Socket) {
    socket.setEncoding("utf8");
    socket.on("data", (text: string) => {
      this.#merged += text;
      const frames = this.#merged.split("¶");
      this.#merged = frames.pop()!;
      for (const frame of frames) if (frame !== "") this.packets.push(JSON.parse(frame));
    });
    socket.on("error", () => {});
    this.closed = new Promise((resolve) => socket.on("close", () => resolve()));
  }

  static connect(port: number, host = "127.0.0.1"): Promise<BookPeer> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host }, () => {
        socket.off("error", reject);
        resolve(new BookPeer(socket));
      });
      socket.once("error", reject);
    });
  }

  send(packet: AnyPacket): void {
    this.socket.write(JSON.stringify(packet) + "¶");
  }

  writeRaw(data: string | Uint8Array): void {
    this.socket.write(data);
  }

  get isClosed(): boolean {
    return this.socket.destroyed || this.socket.readyState === "closed";
  }

  /** Waits for a packet (received from `from` on) that satisfies the predicate. */
  async waitFor(predicate: (packet: AnyPacket) => boolean, timeoutMs = 10_000, from = 0): Promise<AnyPacket> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.packets.slice(from).find(predicate);
      if (found) return found;
      if (Date.now() > deadline) {
        throw new Error(`packet did not come; received: ${JSON.stringify(this.packets).slice(0, 2000)}`);
      }
      await delay(10);
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

export function registration(name: string, port: number, urls: string[] = [], host?: string): AnyPacket {
  return { uri: "/distributes", method: "POST", key: 0, params: { port, name, urls, ...(host ? { host } : {}) } };
}

/** The node list of a distributor notification whose names are exactly `names`, in that order. */
export function isListOf(...names: string[]): (packet: AnyPacket) => boolean {
  return (packet) =>
    packet.uri === "/distributes" && packet.method === "GET" && Array.isArray(packet.params)
    && JSON.stringify(packet.params.map((node: AnyPacket) => node.name)) === JSON.stringify(names);
}
