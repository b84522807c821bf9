/** Purchases' answers: record and list. */
import { type Handlers, PAGING_ADVICE } from "../../mod.ts";
import type { purchases } from "./contract.ts";
import type { PurchasesStore } from "./store.ts";

export function purchasesHandlers(store: PurchasesStore): Handlers<typeof purchases> {
  return {
    "POST/purchases": async ({ userid, goodsid }) => void await store.add(userid, goodsid),
    "GET/purchases": {
      async handle({ userid, limit, after }) {
        const rows = await store.listByUser(userid, { limit, after });
        return { results: rows.map(({ id, goodsid, date }) => ({ id, goodsid, date: date.toISOString() })) };
      },
      tooLargeAdvice: PAGING_ADVICE,
    },
  };
}
