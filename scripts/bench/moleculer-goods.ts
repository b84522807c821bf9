/**
 * Moleculer's side of the comparison, the service: `goods` keeps goods in memory and answers in the book's shapes,
 * as Pilcrow's goods does on its embedded store. Over the TCP transporter (no arguments) it prints a JSON `listen`
 * line with its transporter port; over NATS (`… moleculer-goods.ts nats://HOST:PORT NAMESPACE`) a `ready` line
 * once it is connected, for it listens on no port of its own.
 */
import { ServiceBroker } from "moleculer";
import { createLogger } from "../../lib/log.ts";
import { commandLineArguments } from "../../lib/runtime/mod.ts";
import type { NewGoods } from "./fixture.ts";
import { natsBrokerOptions, natsChoice } from "./moleculer-nats.ts";
import { loopbackTransporter } from "./moleculer-transport.ts";

const nats = natsChoice(commandLineArguments());
const broker = new ServiceBroker({
  nodeID: "goods",
  logLevel: "warn",
  ...(nats ? natsBrokerOptions(nats) : { transporter: loopbackTransporter() }),
});
const rows = new Map<number, NewGoods & { id: number }>();
let nextKey = 0;

broker.createService({
  name: "goods",
  actions: {
    add: {
      params: { name: "string", category: "string", price: "number", description: "string" },
      handler(ctx: { params: NewGoods }) {
        const { name, category, price, description } = ctx.params;
        const id = rows.size + 1;
        rows.set(id, { id, name, category, price, description });
        return { key: nextKey++, errorcode: 0, errormessage: "success" };
      },
    },
    list() {
      const key = nextKey++;
      if (rows.size === 0) return { key, errorcode: 1, errormessage: "no data" };
      return { key, errorcode: 0, errormessage: "success", results: [...rows.values()].map((row) => ({ ...row })) };
    },
  },
});

await broker.start();
const log = createLogger({ name: "moleculer-goods", format: "json" });
if (nats) log.info("ready", { transporter: "NATS", namespace: nats.namespace });
else {
  const { port } = broker.registry.nodes.localNode as unknown as { port: number };
  log.info("listen", { address: "127.0.0.1", port });
}
