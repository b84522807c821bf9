/** Goods' answers: add, list (paged), remove, and look several up at once for other services. */
import { type Handlers, PAGING_ADVICE, ServiceError } from "../../mod.ts";
import type { goods } from "./contract.ts";
import type { GoodsStore } from "./store.ts";

export function goodsHandlers(store: GoodsStore): Handlers<typeof goods> {
  return {
    "POST/goods": async (params) => void await store.add(params),
    "GET/goods": {
      async handle({ limit, after }) {
        const results = await store.list({ limit, after });
        if (results.length === 0) throw new ServiceError("no data");
        return { results };
      },
      tooLargeAdvice: PAGING_ADVICE,
    },
    "DELETE/goods": async ({ id }) => void await store.remove(id),
    "GET/goods/lookup": async ({ ids }) => {
      const found = await store.lookup(ids);
      return { results: found.map(({ id, name, category, price }) => ({ id, name, category, price })) };
    },
  };
}
