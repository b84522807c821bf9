/** A PacketClient to a local port, resolved once it is connected: how the bench's drivers reach what they measure. */
import type { Logger } from "../../lib/log.ts";
import { PacketClient } from "../../lib/tcp/mod.ts";

export function connectedClient(port: number, log: Logger): Promise<PacketClient> {
  return new Promise((resolve) => {
    const connecting: PacketClient = new PacketClient({
      hostname: "127.0.0.1",
      port,
      log,
      connected: () => resolve(connecting),
    }).open();
  });
}
