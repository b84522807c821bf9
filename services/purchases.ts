/**
 * Purchases (docs/protocol.md §5): `npx tsx services/purchases.ts [PORT]` (default 9030). It does not check
 * goods when recording, as in the book; its history asks goods for the goods bought.
 */
import { openStore, runService } from "../mod.ts";
import { purchases } from "./purchases/contract.ts";
import { purchasesHandlers, purchasesUses } from "./purchases/handlers.ts";
import { purchasesStore } from "./purchases/store.ts";

await runService(purchases, {
  port: 9030,
  uses: purchasesUses,
  async start(context) {
    const { store, close } = await openStore("purchases", context, purchasesStore);
    return { handlers: purchasesHandlers(store), close };
  },
});
