/** Purchases (SPEC §5): `npx tsx services/purchases.ts [PORT]` (default 9030). It does not check goods, as in the book. */
import * as v from "valibot";
import { route } from "../lib/service/kit.ts";
import { integer, page, PAGING_ADVICE } from "../lib/service/params.ts";
import { runService } from "../lib/service/run.ts";

await runService("purchases", 9030, ({ purchases }) => ({
  "POST/purchases": route(
    v.object({ userid: integer(), goodsid: integer() }),
    async ({ userid, goodsid }) => void await purchases.add(userid, goodsid),
  ),
  "GET/purchases": route(v.object({ userid: integer(), ...page }), async ({ userid, limit, after }) => {
    const rows = await purchases.listByUser(userid, { limit, after });
    return { results: rows.map(({ id, goodsid, date }) => ({ id, goodsid, date: date.toISOString() })) };
  }, { tooLargeAdvice: PAGING_ADVICE }),
}));
