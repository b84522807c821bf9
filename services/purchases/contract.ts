/** What purchases serves (docs/protocol.md §5), declared once. */
import * as v from "valibot";
import { defineService, integer, page } from "../../mod.ts";

const purchase = { id: v.number(), goodsid: v.number(), date: v.string() };

export const purchases = defineService("purchases", {
  /** Records a purchase now; goods is not checked, as in the book. */
  "POST/purchases": { params: v.object({ userid: integer(), goodsid: integer() }), answer: v.object({}) },
  /** A user's purchases in purchase order, `date` ISO-8601 UTC; none is success with `[]`. */
  "GET/purchases": {
    params: v.object({ userid: integer(), ...page }),
    answer: v.object({ results: v.array(v.object(purchase)) }),
  },
  /**
   * The same, each with the goods bought as goods knows it now (asked over the mesh), or `null` when that goods
   * no longer exists. When goods cannot be reached, a failure that says so.
   */
  "GET/purchases/history": {
    params: v.object({ userid: integer(), ...page }),
    answer: v.object({
      results: v.array(v.object({
        ...purchase,
        goods: v.nullable(v.object({ name: v.string(), category: v.string(), price: v.number() })),
      })),
    }),
  },
});
