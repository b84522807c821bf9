/**
 * A service written the way the book writes one: plain node:net, text split on `¶`, answers
 * `JSON.stringify(reply) + "¶"` with the key taken from `params.key`. What it answers is up to the test.
 */
import { createServer, type Server, type Socket } from "node:net";

// deno-lint-ignore no-explicit-any
type AnyPacket = any;

export interface BookService {
  port: number;
  received: AnyPacket[];
  /** Drops every connection at once, as a crash would, and stops listening. */
  crash(): void;
  close(): Promise<void>;
}

/** `respond` writes the answer to a packet (or nothing: the request then stays in flight). */
export async function startBookService(respond: (packet: AnyPacket, socket: Socket) => void): Promise<BookService> {
  const sockets = new Set<Socket>();
  const received: AnyPacket[] = [];
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {}); // the gateway drops its connection when the node leaves
    let merged = "";
    socket.setEncoding("utf8");
    socket.on("data", (text: string) => {
      merged += text;
      const frames = merged.split("¶");
      merged = frames.pop()!;
      for (const frame of frames) {
        const packet = JSON.parse(frame);
        received.push(packet);
        respond(packet, socket);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const crash = () => {
    server.close();
    for (const socket of sockets) socket.destroy();
  };
  return {
    port: (server.address() as { port: number }).port,
    received,
    crash,
    close: () =>
      new Promise<void>((resolve) => {
        crash();
        server.close(() => resolve());
      }),
  };
}

export function answer(packet: AnyPacket, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ key: packet.params.key, errorcode: 0, errormessage: "success", ...extra }) + "¶";
}
