/** Goods (docs/protocol.md §5): `npx tsx services/goods.ts [PORT]` (default 9010). */
import { openStore, runService } from "../mod.ts";
import { goods } from "./goods/contract.ts";
import { goodsHandlers } from "./goods/handlers.ts";
import { goodsStore } from "./goods/store.ts";

await runService(goods, {
  port: 9010,
  async start(context) {
    const { store, close } = await openStore("goods", context, goodsStore);
    return { handlers: goodsHandlers(store), close };
  },
});
