/**
 * Moleculer's side of the comparison, the gateway: moleculer-web mapping `GET /goods` and `POST /goods` to the
 * `goods` service over the TCP transporter (`… moleculer-gateway.ts GOODS_TRANSPORT_PORT`) or the NATS one
 * (`… moleculer-gateway.ts nats://HOST:PORT NAMESPACE`); prints a JSON `listen` line with its HTTP port once it
 * sees the goods service.
 */
import { type Service, ServiceBroker } from "moleculer";
import ApiGateway from "moleculer-web";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createLogger } from "../../lib/log.ts";
import { commandLineArguments } from "../../lib/runtime/mod.ts";
import { natsBrokerOptions, natsChoice } from "./moleculer-nats.ts";
import { loopbackTransporter } from "./moleculer-transport.ts";

const args = commandLineArguments();
const nats = natsChoice(args);
const broker = new ServiceBroker({
  nodeID: "gateway",
  logLevel: "warn",
  ...(nats ? natsBrokerOptions(nats) : { transporter: loopbackTransporter([`127.0.0.1:${Number(args[0])}/goods`]) }),
});
const api = broker.createService({
  name: "api",
  mixins: [ApiGateway],
  settings: {
    ip: "127.0.0.1",
    port: 0,
    routes: [{
      path: "/",
      aliases: { "GET goods": "goods.list", "POST goods": "goods.add" },
      mappingPolicy: "restrict",
      bodyParsers: { json: true },
    }],
  },
}) as Service & { server: Server };

await broker.start();
await broker.waitForServices("goods", 10_000);
const { address, port } = api.server.address() as AddressInfo;
createLogger({ name: "moleculer-gateway", format: "json" }).info("listen", { address, port });
