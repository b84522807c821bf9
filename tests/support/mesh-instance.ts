/**
 * A Pilcrow instance whose answers a mesh test chooses, run as a real process: it answers pings, registers as
 * `--name NAME` serving `GET/NAME` and `POST/NAME`, and answers each request with its own port after
 * `params.ms` milliseconds — or, started with `--busy`, refuses every request as busy. It logs `request`
 * (method, uri, key, timeout) when one arrives, so that a test sees who got what.
 *
 *   mesh-instance.ts PORT --distributor HOST:PORT --name NAME [--busy] [--secret-file PATH]
 */
import { runMain } from "../../lib/main.ts";
import { linkToRegistry } from "../../lib/mesh/registry-link.ts";
import { listenPackets } from "../../lib/tcp/server.ts";
import { isPing, pong } from "../../lib/wire/heartbeat.ts";

await runMain("mesh-instance", 0, async (config, log) => {
  const name = String(config.values.name);
  const busy = config.values.busy === true;
  const server = await listenPackets({
    hostname: config.host,
    port: config.port,
    log,
    secret: config.secret,
    tcp: config.tcp,
    identity: { role: "service", name },
    packet(packet, connection) {
      if (isPing(packet)) return void connection.send(pong(packet));
      const params = (packet.params ?? {}) as { key?: number; ms?: number };
      log.info("request", { method: packet.method, uri: packet.uri, key: packet.key, timeout: packet.timeout });
      const key = params.key;
      if (busy) {
        connection.send({ key, errorcode: 1, errormessage: `service busy: ${name} refuses all`, retryAfter: 2 });
        return;
      }
      setTimeout(() => {
        connection.send({ key, errorcode: 0, errormessage: "success", port: server.address.port });
      }, params.ms ?? 0);
    },
  });
  log.info("listen", server.address);
  const registry = linkToRegistry({
    distributor: config.distributor,
    self: { port: server.address.port, name, urls: [`GET/${name}`, `POST/${name}`] },
    log,
    tcp: config.tcp,
    secret: config.secret,
  });
  return {
    async stop() {
      registry.close();
      await server.close();
    },
  };
}, { name: { type: "string" }, busy: { type: "boolean" } });
