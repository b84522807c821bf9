/**
 * Moleculer's side of the comparison, the service: `goods` keeps goods in memory and answers in the book's shapes,
 * as Pilcrow's goods does on its embedded store. Prints a JSON `listen` line with its transporter port.
 */
import { ServiceBroker } from "moleculer";
import { createLogger } from "../../lib/log.ts";
import type { NewGoods } from "./fixture.ts";
import { loopbackTransporter } from "./moleculer-transport.ts";

const broker = new ServiceBroker({ nodeID: "goods", logLevel: "warn", transporter: loopbackTransporter() });
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
const { port } = broker.registry.nodes.localNode as unknown as { port: number };
createLogger({ name: "moleculer-goods", format: "json" }).info("listen", { address: "127.0.0.1", port });
