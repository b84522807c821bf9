/**
 * Purchases' answers: record, list, and the history — the list with each goods as goods knows it, asked over
 * the mesh (purchases keeps no goods: on the embedded store only a call can get them).
 */
import { type Handlers, PAGING_ADVICE, ServiceError } from "../../mod.ts";
import { goods, MAX_LOOKUP_IDS } from "../goods/contract.ts";
import type { purchases } from "./contract.ts";
import type { PurchasesStore } from "./store.ts";

/** The contracts purchases calls. */
export const purchasesUses = [goods];

interface GoodsSummary {
  name: string;
  category: string;
  price: number;
}

export function purchasesHandlers(store: PurchasesStore): Handlers<typeof purchases, typeof goods> {
  return {
    "POST/purchases": async ({ userid, goodsid }) => void await store.add(userid, goodsid),
    "GET/purchases": {
      async handle({ userid, limit, after }) {
        const rows = await store.listByUser(userid, { limit, after });
        return { results: rows.map(({ id, goodsid, date }) => ({ id, goodsid, date: date.toISOString() })) };
      },
      tooLargeAdvice: PAGING_ADVICE,
    },
    "GET/purchases/history": {
      async handle({ userid, limit, after }, { call }) {
        const rows = await store.listByUser(userid, { limit, after });
        const ids = [...new Set(rows.map((row) => row.goodsid))];
        const batches = Array.from(
          { length: Math.ceil(ids.length / MAX_LOOKUP_IDS) },
          (_, index) => ids.slice(index * MAX_LOOKUP_IDS, (index + 1) * MAX_LOOKUP_IDS),
        );
        const answers = await Promise.all(batches.map((batch) => call("GET/goods/lookup", { ids: batch })));
        const known = new Map<number, GoodsSummary>();
        for (const answer of answers) {
          if (answer.errorcode !== 0) throw new ServiceError(answer.errormessage);
          for (const { id, name, category, price } of answer.results) known.set(id, { name, category, price });
        }
        return {
          results: rows.map(({ id, goodsid, date }) => ({
            id,
            goodsid,
            date: date.toISOString(),
            goods: known.get(goodsid) ?? null,
          })),
        };
      },
      tooLargeAdvice: PAGING_ADVICE,
    },
  };
}
