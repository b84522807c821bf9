/** The far end of the TCP hop benchmark: a packet server that sends every packet back. `… tcp-echo.ts [PORT]`. */
import { createLogger } from "../../lib/log.ts";
import { commandLineArguments } from "../../lib/runtime/mod.ts";
import { listenPackets } from "../../lib/tcp/server.ts";

const log = createLogger({ name: "tcp-echo", format: "json" });
const server = await listenPackets({
  hostname: "127.0.0.1",
  port: Number(commandLineArguments()[0] ?? 0),
  log,
  packet: (packet, connection) => void connection.send(packet),
});
log.info("listen", server.address);
